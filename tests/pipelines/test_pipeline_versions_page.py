"""A pipeline's versions page: who saved what, diffs between versions, restore, and delete."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth.models import User

from pipelines import actions
from pipelines.models import Pipeline
from tests.conftest import browser_as
from tests.pipelines.conftest import stage


def three_versions(save: Callable[..., Pipeline], admin: User) -> Pipeline:
    save(stage("1", "wait", "Bake", waitTime=10))
    save(stage("1", "wait", "Bake", waitTime=20))
    pipeline = Pipeline.objects.get()
    return actions.save_pipeline(
        admin, {**pipeline.document, "stages": [stage("1", "wait", "Bake", waitTime=30)]}, source="ui"
    )


def base(pipeline: Pipeline) -> str:
    return f"/applications/shop/pipelines/{pipeline.pk}/"


def test_it_lists_versions_newest_first_with_who_saved_them(
    save: Callable[..., Pipeline], admin: User, viewer: User
) -> None:
    pipeline = three_versions(save, admin)
    page = browser_as(viewer).get(base(pipeline) + "versions/").content.decode()
    rows = [page.index(f'<tr id="version-{n}">') for n in (3, 2, 1)]
    assert rows == sorted(rows)
    assert "<td>admin</td>" in page[rows[0] : rows[1]]
    assert "<td>developer</td>" in page[rows[1] : rows[2]]
    assert "Restore" not in page  # a reader may look, not restore


def test_it_shows_a_coloured_diff_against_the_previous_or_the_current_version(
    save: Callable[..., Pipeline], admin: User, viewer: User
) -> None:
    pipeline = three_versions(save, admin)
    client = browser_as(viewer)
    previous = client.get(base(pipeline) + "versions/2/?against=previous").content.decode()
    assert "Version 1 → version 2" in previous
    assert '<span class="diff-removed">-      &quot;waitTime&quot;: 10</span>' in previous
    assert '<span class="diff-added">+      &quot;waitTime&quot;: 20</span>' in previous
    current = client.get(base(pipeline) + "versions/1/?against=current").content.decode()
    assert "Version 1 → version 3" in current
    assert '<span class="diff-added">+      &quot;waitTime&quot;: 30</span>' in current
    first = client.get(base(pipeline) + "versions/1/").content.decode()
    assert "Version 1, the first" in first
    assert client.get(base(pipeline) + "versions/9/").status_code == 404


def test_it_restores_an_old_version_as_a_new_one_after_confirmation(
    save: Callable[..., Pipeline], admin: User, developer: User
) -> None:
    pipeline = three_versions(save, admin)
    client = browser_as(developer)
    page = client.get(base(pipeline) + "versions/").content.decode()
    assert "Save version 1 again as version 4" in page
    unconfirmed = client.post(base(pipeline) + "versions/1/restore/", follow=True).content.decode()
    assert "Tick the box to confirm restoring version 1." in unconfirmed
    assert Pipeline.objects.get().version == 3
    done = client.post(base(pipeline) + "versions/1/restore/", {"confirm": "yes"}, follow=True).content.decode()
    assert "Restored version 1 as version 4." in done
    restored = Pipeline.objects.get()
    assert restored.version == 4
    assert restored.config["stages"][0]["waitTime"] == 10


def test_a_reader_cannot_restore(save: Callable[..., Pipeline], admin: User, viewer: User) -> None:
    pipeline = three_versions(save, admin)
    response = browser_as(viewer).post(base(pipeline) + "versions/1/restore/", {"confirm": "yes"})
    assert response.status_code == 403
    assert Pipeline.objects.get().version == 3


def test_it_deletes_a_pipeline_once_its_name_is_typed(
    save: Callable[..., Pipeline], developer: User, viewer: User
) -> None:
    pipeline = save(stage("1", "wait", "Bake", waitTime=10))
    client = browser_as(developer)
    assert "Type the name to confirm <code>deploy</code>" in client.get(base(pipeline) + "delete/").content.decode()
    assert browser_as(viewer).post(base(pipeline) + "delete/", {"confirm": "deploy"}).status_code == 403
    wrong = client.post(base(pipeline) + "delete/", {"confirm": "shop"})
    assert wrong.status_code == 400
    assert "Type &#x27;deploy&#x27; exactly to confirm." in wrong.content.decode()
    assert Pipeline.objects.exists()
    response = client.post(base(pipeline) + "delete/", {"confirm": "deploy"}, follow=True)
    assert "Pipeline deploy deleted." in response.content.decode()
    assert not Pipeline.objects.exists()
