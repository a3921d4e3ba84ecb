"""The pipeline editor: JSON checked as it is typed, errors at their lines, saves as new versions."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from typing import Any

from django.contrib.auth.models import User

from pipelines.models import Pipeline, PipelineVersion
from spinweb.models import AuditEvent
from tests.conftest import browser_as
from tests.pipelines.conftest import stage

HTMX = {"HX-Request": "true"}


def edit_url(pipeline: Pipeline) -> str:
    return f"/applications/shop/pipelines/{pipeline.pk}/edit/"


def two_waits(save: Callable[..., Pipeline], **fields: Any) -> Pipeline:
    return save(stage("1", "wait", "Bake", waitTime=10), stage("2", "wait", "Ship", ("1",), waitTime=20), **fields)


def textarea(page: str) -> str:
    found = re.search(r'<textarea id="pipeline-json"[^>]*>\n(.*?)</textarea>', page, re.DOTALL)
    assert found, page
    return html.unescape(found.group(1))


def edited(pipeline: Pipeline, change: Callable[[dict[str, Any]], None]) -> str:
    page = browser_as(User.objects.get(username="developer")).get(edit_url(pipeline)).content.decode()
    document = json.loads(textarea(page))
    change(document)
    return json.dumps(document, indent=2)


def line_with(text: str, needle: str, occurrence: int = 1) -> int:
    lines = [number for number, line in enumerate(text.splitlines(), 1) if needle in line]
    return lines[occurrence - 1]


def test_it_shows_the_pipeline_json_pretty_printed_with_a_graph(save: Callable[..., Pipeline], developer: User) -> None:
    pipeline = two_waits(save)
    page = browser_as(developer).get(edit_url(pipeline)).content.decode()
    text = textarea(page)
    assert text.startswith('{\n  "id": "' + str(pipeline.pk) + '",\n  "application": "shop",\n  "name": "deploy",')
    assert json.loads(text)["stages"][1]["requisiteStageRefIds"] == ["1"]
    assert '<svg class="pipeline-graph"' in page
    assert ">Bake<" in page or "Bake</text>" in page
    assert '<button type="submit">Save</button>' in page


def test_a_reader_sees_the_json_read_only_and_an_outsider_nothing(
    save: Callable[..., Pipeline], viewer: User, outsider: User
) -> None:
    pipeline = two_waits(save)
    page = browser_as(viewer).get(edit_url(pipeline)).content.decode()
    assert re.search(r'<textarea id="pipeline-json"[^>]* readonly>', page)
    assert "changing it needs WRITE permission on shop" in page
    assert "Save</button>" not in page
    assert browser_as(outsider).get(edit_url(pipeline)).status_code == 404


def test_validate_places_each_error_at_the_line_of_its_path(save: Callable[..., Pipeline], developer: User) -> None:
    pipeline = two_waits(save)

    def cycle_and_untyped(document: dict[str, Any]) -> None:
        document["stages"][0]["requisiteStageRefIds"] = ["2"]
        del document["stages"][1]["type"]

    text = edited(pipeline, cycle_and_untyped)
    response = browser_as(developer).post(edit_url(pipeline) + "validate/", {"document": text}, headers=HTMX)
    body = html.unescape(response.content.decode())
    cycle_line = line_with(text, '"2"')  # the first stage's requisite, the first "2" in the text
    second_stage_line = line_with(text, "{", 3)  # the document, then the stages
    assert response.status_code == 200
    cycle = "Stages 1 → 2 → 1 form a cycle."
    assert f"line {cycle_line}</a> · <code>stages[0].requisiteStageRefIds[0]</code>: {cycle}" in body
    assert f"line {second_stage_line}</a> · <code>stages[1].type</code>: type is required." in body
    note = f"stages[0].requisiteStageRefIds[0]: {cycle}"
    assert f'<span class="gutter-line has-error" data-line="{cycle_line}" title="{note}">{cycle_line}</span>' in body
    assert '<div id="graph-preview" class="graph-preview" hx-swap-oob="true">' in body  # the cycle is still drawn
    assert pipeline.versions.count() == 1


def test_validate_reports_malformed_json_by_line_and_column(save: Callable[..., Pipeline], developer: User) -> None:
    pipeline = two_waits(save)
    text = '{\n  "name": "deploy",\n  "stages": [\n    {"refId": "1" "type": "wait"}\n  ]\n}'
    body = (
        browser_as(developer).post(edit_url(pipeline) + "validate/", {"document": text}, headers=HTMX).content.decode()
    )
    assert "line 4</a> · Line 4, column 19: Expecting &#x27;,&#x27; delimiter." in body
    assert 'data-line="4" title="Line 4, column 19' in body
    assert "graph-preview" not in body  # the last graph that parsed stays


def test_validate_says_when_all_is_well(save: Callable[..., Pipeline], developer: User) -> None:
    pipeline = two_waits(save)
    text = edited(pipeline, lambda document: document.update(description="Ships it"))
    body = (
        browser_as(developer).post(edit_url(pipeline) + "validate/", {"document": text}, headers=HTMX).content.decode()
    )
    assert "No problems found." in body


def test_it_saves_a_new_version_and_says_so(save: Callable[..., Pipeline], developer: User) -> None:
    pipeline = two_waits(save)
    text = edited(pipeline, lambda document: document["stages"][1].update(waitTime=99))
    response = browser_as(developer).post(edit_url(pipeline), {"document": text}, headers=HTMX)
    body = response.content.decode()
    assert response.status_code == 200
    assert '<p class="editor-saved" role="status">Saved version 2.</p>' in body
    assert '"version": 2' in textarea(body)
    pipeline.refresh_from_db()
    assert pipeline.version == 2
    assert pipeline.config["stages"][1]["waitTime"] == 99
    assert "version" not in pipeline.config
    assert "updateTs" not in pipeline.config
    assert AuditEvent.objects.filter(action="update", source="ui").count() == 1


def test_a_refused_save_keeps_the_text_and_the_version(save: Callable[..., Pipeline], developer: User) -> None:
    pipeline = two_waits(save)
    text = edited(pipeline, lambda document: document["stages"][0].update(requisiteStageRefIds=["2"]))
    body = html.unescape(
        browser_as(developer).post(edit_url(pipeline), {"document": text}, headers=HTMX).content.decode()
    )
    assert "Stages 1 → 2 → 1 form a cycle." in body
    assert textarea(body).replace("\r\n", "\n") == text
    assert "Saved version" not in body
    pipeline.refresh_from_db()
    assert pipeline.version == 1


def test_a_reader_cannot_save_or_validate(save: Callable[..., Pipeline], viewer: User) -> None:
    pipeline = two_waits(save)
    text = json.dumps({**pipeline.document, "description": "changed"})
    client = browser_as(viewer)
    assert client.post(edit_url(pipeline), {"document": text}, headers=HTMX).status_code == 403
    assert client.post(edit_url(pipeline) + "validate/", {"document": text}, headers=HTMX).status_code == 403
    pipeline.refresh_from_db()
    assert pipeline.version == 1
    assert pipeline.config.get("description") == ""


def test_the_id_and_application_stay_those_of_the_page(save: Callable[..., Pipeline], developer: User) -> None:
    pipeline = two_waits(save)
    text = edited(pipeline, lambda document: document.update(application="blog", id="not-this-one"))
    body = html.unescape(
        browser_as(developer).post(edit_url(pipeline), {"document": text}, headers=HTMX).content.decode()
    )
    assert "<code>application</code>: This page saves pipelines of shop; keep it." in body
    assert f"<code>id</code>: The id of this pipeline is {pipeline.pk}; keep it." in body
    assert Pipeline.objects.get().version == 1


def test_it_creates_a_pipeline_from_the_new_page(save: Callable[..., Pipeline], developer: User, viewer: User) -> None:
    two_waits(save)
    client = browser_as(developer)
    page = client.get("/applications/shop/pipelines/new/").content.decode()
    assert json.loads(textarea(page))["application"] == "shop"
    taken = json.dumps({"name": "deploy", "stages": []})
    body = html.unescape(
        client.post("/applications/shop/pipelines/new/validate/", {"document": taken}, headers=HTMX).content.decode()
    )
    assert "<code>name</code>: shop already has a pipeline named 'deploy'." in body
    fresh = json.dumps({"name": "hotfix", "stages": [stage("1", "wait", "Pause", waitTime=5)]}, indent=2)
    response = client.post("/applications/shop/pipelines/new/", {"document": fresh}, headers=HTMX)
    created = Pipeline.objects.get(name="hotfix")
    assert response["HX-Redirect"] == edit_url(created)
    assert "Saved version 1." in client.get(edit_url(created)).content.decode()
    assert browser_as(viewer).get("/applications/shop/pipelines/new/").status_code == 403


def test_a_locked_pipeline_opens_read_only_and_refuses_saves(save: Callable[..., Pipeline], developer: User) -> None:
    pipeline = two_waits(save, locked={"ui": True, "description": "Managed by Terraform"})
    client = browser_as(developer)
    page = client.get(edit_url(pipeline)).content.decode()
    assert "This pipeline is locked: Managed by Terraform." in page
    assert re.search(r'<textarea id="pipeline-json"[^>]* readonly>', page)
    assert "Save</button>" not in page
    text = edited(pipeline, lambda document: document.update(locked=False))
    response = client.post(edit_url(pipeline), {"document": text})
    assert response.status_code == 409
    assert Pipeline.objects.get().version == 1
    assert PipelineVersion.objects.count() == 1


def test_trigger_secrets_never_reach_the_page_and_survive_a_save(
    save: Callable[..., Pipeline], developer: User
) -> None:
    secret = "hush-7f3a9c-hush"
    pipeline = two_waits(save, triggers=[{"type": "webhook", "source": "builds", "secret": secret, "enabled": True}])
    client = browser_as(developer)
    page = client.get(edit_url(pipeline)).content.decode()
    assert secret not in page
    text = edited(pipeline, lambda document: document.update(description="Ships it"))
    validated = client.post(edit_url(pipeline) + "validate/", {"document": text}, headers=HTMX).content.decode()
    assert "No problems found." in validated
    saved = client.post(edit_url(pipeline), {"document": text}, headers=HTMX).content.decode()
    assert "Saved version 2." in saved
    assert secret not in saved
    pipeline.refresh_from_db()
    assert pipeline.config["triggers"][0]["secret"] == secret
    diff = client.get(f"/applications/shop/pipelines/{pipeline.pk}/versions/2/?against=previous").content.decode()
    assert "Ships it" in diff
    assert secret not in diff


def test_errors_stay_on_their_line_whatever_the_strings_hold(save: Callable[..., Pipeline], developer: User) -> None:
    pipeline = two_waits(save)

    def tricky(document: dict[str, Any]) -> None:
        document["description"] = 'quotes \\" and }], {"a": [1, 2]} inside a string'
        document["stages"][0]["name"] = 'Bake, {then} [ship]: "now"'
        document["stages"][0]["requisiteStageRefIds"] = ["2"]

    text = edited(pipeline, tricky).replace("\n", "\r\n")  # browsers send textarea lines with CRLF
    body = html.unescape(
        browser_as(developer).post(edit_url(pipeline) + "validate/", {"document": text}, headers=HTMX).content.decode()
    )
    cycle_line = line_with(text, '"2"')
    assert f"line {cycle_line}</a> · <code>stages[0].requisiteStageRefIds[0]</code>" in body
