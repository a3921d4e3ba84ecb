"""An application's pipelines page: recent runs as stage markers, triggers, the start form, live rows."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from applications.models import Application
from pipelines import actions
from pipelines.models import Execution, Pipeline, StageExecution
from tests.conftest import browser_as
from tests.pipelines.conftest import stage

PAGE = "/applications/shop/pipelines/"
HTMX = {"HX-Request": "true"}


def release(save: Callable[..., Pipeline], **fields: object) -> Pipeline:
    return save(
        stage("1", "manualJudgment", "Approve"),
        stage("2", "wait", "Soak", ("1",), waitTime=600),
        parameterConfig=[
            {"name": "env", "hasOptions": True, "options": [{"value": "qa"}, {"value": "prod"}], "default": "qa"},
            {"name": "version", "required": True, "description": "The build to ship"},
            {"name": "note", "label": "Release note", "default": "weekly"},
        ],
        **fields,
    )


def test_it_shows_the_last_five_runs_as_stage_markers_linking_to_each_run(
    save: Callable[..., Pipeline], run: Callable[..., Execution], developer: User
) -> None:
    pipeline = release(save, limitConcurrent=False)
    runs = [run(pipeline, version=str(n)) for n in range(6)]
    page = browser_as(developer).get(PAGE).content.decode()
    for execution in runs[1:]:
        assert f'href="/applications/shop/executions/{execution.pk}/"' in page
    assert str(runs[0].pk) not in page
    assert page.count('title="Approve: RUNNING"') == 5
    assert page.count('title="Soak: NOT_STARTED"') == 5
    assert 'class="marker status-RUNNING"' in page


def test_it_summarises_triggers_with_the_next_cron_firings_and_marks_disabled_pipelines(
    save: Callable[..., Pipeline], developer: User
) -> None:
    save(
        stage("1", "wait", "Pause", waitTime=1),
        name="nightly",
        triggers=[{"type": "cron", "cronExpression": "0 30 2 * * ?", "timeZone": "UTC", "enabled": True}],
    )
    save(stage("1", "wait", "Pause", waitTime=1), name="old", disabled=True)
    page = browser_as(developer).get(PAGE).content.decode()
    assert "Cron 0 30 2 * * ? (UTC)" in page
    firings = re.findall(r"<time datetime=\"[^\"]+\">\w{3} \d{4}-\d\d-\d\d 02:30 UTC</time>", page)
    assert len(firings) == 3
    old = page[page.index("<strong>old</strong>") :]
    assert '<span class="badge pipeline-disabled">disabled</span>' in old[:300]
    assert "Run old" not in page
    assert "Run nightly" in page


def test_it_shows_the_start_form_with_defaults_options_and_required_marks_to_executors_only(
    save: Callable[..., Pipeline], developer: User, viewer: User, outsider: User
) -> None:
    pipeline = release(save)
    page = browser_as(developer).get(PAGE).content.decode()
    assert f'hx-post="/applications/shop/pipelines/{pipeline.pk}/run/"' in page
    assert '<option value="qa" selected>qa</option><option value="prod">prod</option>' in page
    assert re.search(
        r'version <strong title="required">\*</strong>\s*<input name="param-version" value="" required>', page
    )
    assert '<input name="param-note" value="weekly">' in page
    assert "Release note" in page
    assert "<small>The build to ship</small>" in page
    seen_by_viewer = browser_as(viewer).get(PAGE).content.decode()
    assert "<strong>deploy</strong>" in seen_by_viewer
    assert "Start manual execution" not in seen_by_viewer
    assert "param-version" not in seen_by_viewer
    assert browser_as(outsider).get(PAGE).status_code == 404


def test_it_starts_a_run_through_htmx_and_sends_the_browser_to_it(
    save: Callable[..., Pipeline], developer: User
) -> None:
    pipeline = release(save)
    response = browser_as(developer).post(
        f"/applications/shop/pipelines/{pipeline.pk}/run/",
        {"param-env": "prod", "param-version": "1.4.2"},
        headers=HTMX,
    )
    execution = Execution.objects.get()
    assert response.status_code == 200
    assert response["HX-Redirect"] == f"/applications/shop/executions/{execution.pk}/"
    assert execution.parameters == {"env": "prod", "version": "1.4.2", "note": "weekly"}


def test_it_shows_a_refused_start_beside_the_field_and_keeps_what_was_typed(
    save: Callable[..., Pipeline], developer: User
) -> None:
    pipeline = release(save)
    response = browser_as(developer).post(
        f"/applications/shop/pipelines/{pipeline.pk}/run/",
        {"param-env": "staging", "param-version": "", "param-note": "hotfix"},
        headers=HTMX,
    )
    form = response.content.decode()
    assert response.status_code == 200
    assert form.lstrip().startswith(f'<form id="start-{pipeline.pk}"')
    assert re.search(
        r'name="param-version" value="" required aria-invalid="true">\s*'
        r'<small class="error" role="alert">The parameter &#x27;version&#x27; is required and has no default.</small>',
        form,
    )
    assert "env must be one of qa, prod, not &#x27;staging&#x27;." in form
    assert '<input name="param-note" value="hotfix">' in form
    assert not Execution.objects.exists()


def test_it_refuses_a_start_without_execute(save: Callable[..., Pipeline], viewer: User) -> None:
    pipeline = release(save)
    response = browser_as(viewer).post(f"/applications/shop/pipelines/{pipeline.pk}/run/", {"param-version": "1"})
    assert response.status_code == 403
    assert not Execution.objects.exists()


def test_it_polls_the_runs_only_while_one_is_active(
    save: Callable[..., Pipeline], run: Callable[..., Execution], developer: User
) -> None:
    pipeline = release(save)
    client = browser_as(developer)
    assert 'data-active="false"' in client.get(PAGE).content.decode()
    execution = run(pipeline, version="1")
    page = client.get(PAGE).content.decode()
    assert 'hx-get="/applications/shop/pipelines/rows/" hx-trigger="every 3s"' in page
    rows = client.get("/applications/shop/pipelines/rows/", headers=HTMX).content.decode()
    assert 'hx-trigger="every 3s"' in rows
    assert f'<div id="runs-{pipeline.pk}" class="runs" hx-swap-oob="true">' in rows
    assert "param-version" not in rows  # the start form is left alone
    actions.cancel(developer, execution, source="ui")
    rows = client.get("/applications/shop/pipelines/rows/", headers=HTMX).content.decode()
    assert 'data-active="false"' in rows
    assert "every 3s" not in rows
    assert 'title="Approve: CANCELED"' in rows


def _fill(shop: Application, pipelines: int) -> None:
    """``pipelines`` pipelines, each with 5 finished runs of 5 stages, written in bulk."""
    now = timezone.now()
    rows = Pipeline.objects.bulk_create(
        Pipeline(application=shop, name=f"p{n:02d}", config={"stages": [], "triggers": []}) for n in range(pipelines)
    )
    runs = Execution.objects.bulk_create(
        Execution(
            application=shop,
            pipeline=pipeline,
            name=pipeline.name,
            config={},
            status="SUCCEEDED",
            created_at=now - timedelta(minutes=n),
        )
        for pipeline in rows
        for n in range(5)
    )
    StageExecution.objects.bulk_create(
        StageExecution(execution=execution, ref_id=str(n), type="wait", name=f"s{n}", position=n, status="SUCCEEDED")
        for execution in runs
        for n in range(5)
    )


def test_it_costs_the_same_queries_for_2_or_10_pipelines_with_5_runs_of_5_stages(
    shop: Application, developer: User
) -> None:
    client = browser_as(developer)
    _fill(shop, 2)
    client.get(PAGE)  # the session and user are cached from here on
    with CaptureQueriesContext(connection) as few:
        small = client.get(PAGE).content.decode()
    Execution.objects.all().delete()
    Pipeline.objects.all().delete()
    _fill(shop, 10)
    with CaptureQueriesContext(connection) as many:
        large = client.get(PAGE).content.decode()
    assert small.count('class="marker status-SUCCEEDED"') == 2 * 5 * 5
    assert large.count('class="marker status-SUCCEEDED"') == 10 * 5 * 5
    assert len(many.captured_queries) == len(few.captured_queries)
