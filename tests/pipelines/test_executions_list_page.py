"""An application's executions page: filters, newest first, keyset pages at a constant query cost."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from applications.models import Application
from pipelines.execution_list_views import PAGE_SIZE, encode_cursor
from pipelines.models import Execution, Pipeline, StageExecution
from tests.conftest import browser_as

PAGE = "/applications/shop/executions/"
HTMX = {"HX-Request": "true"}


@pytest.fixture
def deploy(shop: Application) -> Pipeline:
    return Pipeline.objects.create(application=shop, name="deploy", config={"stages": []})


@pytest.fixture
def rollback(shop: Application) -> Pipeline:
    return Pipeline.objects.create(application=shop, name="rollback", config={"stages": []})


def make_run(
    pipeline: Pipeline,
    *,
    status: str = "SUCCEEDED",
    trigger: str = "manual",
    ago: timedelta = timedelta(),
    **fields: Any,
) -> Execution:
    execution = Execution.objects.create(
        application=pipeline.application,
        pipeline=pipeline,
        name=pipeline.name,
        config={},
        status=status,
        trigger={"type": trigger, "user": "developer"},
        trigger_type=trigger,
        **fields,
    )
    # created_at is auto_now_add: move it afterwards.
    Execution.objects.filter(pk=execution.pk).update(created_at=timezone.now() - ago)
    execution.refresh_from_db()
    return execution


def shown(client: Client, query: str = "") -> list[str]:
    """The execution ids on the page, in order."""
    body = client.get(PAGE + query, headers=HTMX).content.decode()
    return re.findall(r'href="/applications/shop/executions/([0-9a-f-]{36})/"', body)


def test_it_lists_runs_newest_first_with_their_trigger_duration_and_stage_markers(
    deploy: Pipeline, developer: User
) -> None:
    now = timezone.now()
    older = make_run(
        deploy,
        ago=timedelta(hours=2),
        started_at=now - timedelta(hours=2),
        ended_at=now - timedelta(hours=2) + timedelta(seconds=125),
    )
    newer = make_run(deploy, status="RUNNING", trigger="cron", ago=timedelta(minutes=1))
    StageExecution.objects.create(execution=older, ref_id="1", type="wait", name="Bake", position=0, status="SUCCEEDED")
    StageExecution.objects.create(execution=older, ref_id="2", type="wait", name="Ship", position=1, status="TERMINAL")
    parent = StageExecution.objects.create(execution=newer, ref_id="1", type="wait", name="Bake", status="RUNNING")
    StageExecution.objects.create(
        execution=newer, ref_id="1-w", type="wait", name="Window", parent=parent, synthetic_owner="STAGE_BEFORE"
    )
    client = browser_as(developer)
    page = client.get(PAGE).content.decode()
    assert shown(client) == [str(newer.pk), str(older.pk)]
    assert "<h1>Executions</h1>" in page
    assert 'title="Bake: SUCCEEDED"' in page
    assert 'title="Ship: TERMINAL"' in page
    assert 'title="Bake: RUNNING"' in page
    assert "Window" not in page  # synthetic stages are not markers
    assert "<td>2m 05s</td>" in page
    assert 'cron <span class="muted">by developer</span>' in page


def test_it_answers_htmx_with_the_table_only(deploy: Pipeline, developer: User) -> None:
    make_run(deploy)
    body = browser_as(developer).get(PAGE, headers=HTMX).content.decode()
    assert body.lstrip().startswith('<table class="executions">')
    assert "<html" not in body


def test_each_filter_narrows_the_list(deploy: Pipeline, rollback: Pipeline, developer: User) -> None:
    failed = make_run(deploy, status="TERMINAL", ago=timedelta(minutes=5))
    cron = make_run(deploy, trigger="cron", ago=timedelta(minutes=10))
    other = make_run(rollback, ago=timedelta(minutes=20))
    old = make_run(deploy, ago=timedelta(days=3))
    client = browser_as(developer)
    assert shown(client) == [str(failed.pk), str(cron.pk), str(other.pk), str(old.pk)]
    assert shown(client, f"?pipeline={rollback.pk}") == [str(other.pk)]
    assert shown(client, "?status=TERMINAL") == [str(failed.pk)]
    assert shown(client, "?trigger=cron") == [str(cron.pk)]
    assert shown(client, "?within=hour") == [str(failed.pk), str(cron.pk), str(other.pk)]
    assert shown(client, "?within=week&pipeline=" + str(deploy.pk) + "&status=SUCCEEDED") == [str(cron.pk), str(old.pk)]
    local = timezone.localtime(timezone.now())
    after = (local - timedelta(minutes=15)).strftime("%Y-%m-%dT%H:%M")
    before = (local - timedelta(minutes=7)).strftime("%Y-%m-%dT%H:%M")
    assert shown(client, f"?after={after}&before={before}") == [str(cron.pk)]
    assert shown(client, "?trigger=webhook") == []
    assert "No execution matches these filters." in client.get(PAGE + "?trigger=webhook").content.decode()


def test_it_reports_a_bad_filter_and_keeps_the_others(deploy: Pipeline, developer: User) -> None:
    failed = make_run(deploy, status="TERMINAL")
    make_run(deploy)
    page = browser_as(developer).get(PAGE + "?status=TERMINAL&after=yesterday").content.decode()
    assert "Enter a valid date/time." in page
    assert re.findall(r'href="/applications/shop/executions/([0-9a-f-]{36})/"', page) == [str(failed.pk)]


def test_it_shows_the_filters_in_the_address_so_they_can_be_shared(deploy: Pipeline, developer: User) -> None:
    page = browser_as(developer).get(PAGE + "?status=RUNNING").content.decode()
    assert 'hx-push-url="true"' in page
    assert '<option value="RUNNING" selected>Running</option>' in page
    assert f'<option value="{deploy.pk}">deploy</option>' in page


def test_it_hides_the_page_from_people_without_read(deploy: Pipeline, viewer: User, outsider: User) -> None:
    make_run(deploy)
    assert browser_as(viewer).get(PAGE).status_code == 200
    assert browser_as(outsider).get(PAGE).status_code == 404


def _bulk(pipeline: Pipeline, count: int, stages: int = 2) -> list[Execution]:
    """``count`` runs of ``stages`` top-level stages each, newest first as the page orders them."""
    runs = Execution.objects.bulk_create(
        Execution(
            application=pipeline.application, pipeline=pipeline, name=pipeline.name, config={}, status="SUCCEEDED"
        )
        for _ in range(count)
    )
    StageExecution.objects.bulk_create(
        StageExecution(execution=run, ref_id=str(n), type="wait", name=f"s{n}", position=n, status="SUCCEEDED")
        for run in runs
        for n in range(stages)
    )
    return list(Execution.objects.order_by("-created_at", "-id"))


def test_it_pages_by_cursor_older_and_newer(deploy: Pipeline, developer: User) -> None:
    ordered = [str(run.pk) for run in _bulk(deploy, PAGE_SIZE * 2 + 20)]
    client = browser_as(developer)
    first = client.get(PAGE + "?status=SUCCEEDED", headers=HTMX).content.decode()
    assert shown(client, "?status=SUCCEEDED") == ordered[:PAGE_SIZE]
    older = re.search(r'href="([^"]*older=[^"]*)"', first)
    assert older is not None
    assert "status=SUCCEEDED" in older.group(1)
    second_url = older.group(1).replace("&amp;", "&")
    second = client.get(second_url, headers=HTMX).content.decode()
    assert re.findall(r'executions/([0-9a-f-]{36})/"', second) == ordered[PAGE_SIZE : PAGE_SIZE * 2]
    third_link = re.search(r'href="([^"]*older=[^"]*)"', second)
    assert third_link is not None
    third = client.get(third_link.group(1).replace("&amp;", "&"), headers=HTMX).content.decode()
    assert re.findall(r'executions/([0-9a-f-]{36})/"', third) == ordered[PAGE_SIZE * 2 :]
    assert "older=" not in third
    newer = re.search(r'href="([^"]*newer=[^"]*)"', third)
    assert newer is not None
    back = client.get(newer.group(1).replace("&amp;", "&"), headers=HTMX).content.decode()
    assert re.findall(r'executions/([0-9a-f-]{36})/"', back) == ordered[PAGE_SIZE : PAGE_SIZE * 2]


def _queries(client: Client, query: str = "") -> tuple[int, str]:
    with CaptureQueriesContext(connection) as captured:
        body = client.get(PAGE + query).content.decode()
    return len(captured.captured_queries), body


def test_it_costs_the_same_queries_for_10_or_200_runs(deploy: Pipeline, developer: User) -> None:
    client = browser_as(developer)
    _bulk(deploy, 10)
    client.get(PAGE)
    few, _ = _queries(client)
    _bulk(deploy, 190)
    many, body = _queries(client)
    assert body.count('title="s1: SUCCEEDED"') == PAGE_SIZE
    assert many == few


def test_it_serves_page_50_of_10000_runs_as_cheaply_as_page_1(deploy: Pipeline, developer: User) -> None:
    ordered = _bulk(deploy, 10_000, stages=1)
    client = browser_as(developer)
    client.get(PAGE)
    first, _ = _queries(client)
    cursor = encode_cursor(ordered[PAGE_SIZE * 49 - 1])
    fiftieth, body = _queries(client, f"?older={cursor}")
    assert fiftieth == first
    expected = [str(run.pk) for run in ordered[PAGE_SIZE * 49 : PAGE_SIZE * 50]]
    assert re.findall(r'executions/([0-9a-f-]{36})/"', body) == expected
    assert body.count('title="s0: SUCCEEDED"') == PAGE_SIZE
    assert "newer=" in body
    assert "older=" in body


def test_a_cursor_that_is_not_one_shows_the_newest_page(deploy: Pipeline, developer: User) -> None:
    newest = make_run(deploy)
    assert shown(browser_as(developer), "?older=garbage")[:1] == [str(newest.pk)]
