"""The live execution page: SVG graph, stage panel, operator buttons, polling fragment, query counts."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from pipelines import actions
from pipelines.engine.runner import run_due_tasks
from pipelines.models import Execution, Pipeline, StageExecution
from tests.conftest import browser_as
from tests.pipelines.conftest import stage

SVG = "{http://www.w3.org/2000/svg}"
HTMX = {"HX-Request": "true"}


def page_url(execution: Execution, suffix: str = "") -> str:
    return f"/applications/shop/executions/{execution.pk}/{suffix}"


def svg_of(html: str) -> ET.Element:
    match = re.search(r"<svg.*?</svg>", html, re.S)
    assert match, "no graph on the page"
    return ET.fromstring(match.group(0))


def nodes_of(svg: ET.Element) -> dict[str, ET.Element]:
    return {node.get("data-ref-id", ""): node for node in svg.iter(f"{SVG}g")}


def status_of(node: ET.Element) -> str:
    rect = node.find(f"{SVG}rect")
    assert rect is not None
    return rect.get("class", "")


def get(client: Client, url: str, **headers: str) -> str:
    response = client.get(url, headers=headers)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def release(save: Callable[..., Pipeline], run: Callable[..., Execution]) -> Execution:
    """Preflight (a precondition, done) -> Approve (a judgment, waiting) -> Soak (a wait, not started)."""
    pipeline = save(
        stage("1", "checkPreconditions", "Preflight", preconditions=[{"context": {"expression": "${1 == 1}"}}]),
        stage(
            "2",
            "manualJudgment",
            "Approve",
            ("1",),
            instructions="Check the dashboards",
            judgmentInputs=[{"value": "go"}, {"value": "hold"}],
        ),
        stage("3", "wait", "Soak", ("2",), waitTime=600),
    )
    return run(pipeline)


def test_it_draws_a_node_per_stage_with_its_status_and_synthetic_stages_nested(
    save: Callable[..., Pipeline], run: Callable[..., Execution], viewer: User
) -> None:
    execution = release(save, run)
    nodes = nodes_of(svg_of(get(browser_as(viewer), page_url(execution))))
    assert set(nodes) == {"1", "1<1", "2", "3"}
    assert status_of(nodes["1"]) == "status-SUCCEEDED"
    assert status_of(nodes["1<1"]) == "status-SUCCEEDED"
    assert status_of(nodes["2"]) == "status-RUNNING"
    assert status_of(nodes["3"]) == "status-NOT_STARTED"
    assert nodes["1<1"] in list(nodes["1"])  # drawn inside its parent's group
    assert nodes["2"].get("aria-label", "").startswith("Stage Approve: RUNNING, ")
    title = nodes["3"].find(f"{SVG}title")
    assert title is not None
    assert title.text == "Stage Soak: NOT_STARTED"
    stage_id = StageExecution.objects.get(ref_id="2").pk
    assert nodes["2"].get("hx-get") == page_url(execution, f"stages/{stage_id}/")
    assert nodes["2"].get("hx-target") == "#stage-detail"


def test_it_shows_the_stage_panel_with_context_outputs_errors_and_tasks(
    save: Callable[..., Pipeline], run: Callable[..., Execution], viewer: User
) -> None:
    pipeline = save(
        stage(
            "1",
            "evaluateVariables",
            "Compute",
            variables=[{"key": "region", "value": "${parameters.env}-east"}],
            note="${parameters.env}",
            broken="${nope.missing}",
        ),
        stage("2", "checkPreconditions", "Gate", ("1",), preconditions=[{"context": {"expression": "${false}"}}]),
        parameterConfig=[{"name": "env", "default": "qa"}],
    )
    execution = run(pipeline)
    client = browser_as(viewer)
    compute = StageExecution.objects.get(ref_id="1")
    panel = get(client, page_url(execution, f"stages/{compute.pk}/"))
    assert "&quot;note&quot;: &quot;qa&quot;" in panel  # the context after evaluation
    assert "&quot;region&quot;: &quot;qa-east&quot;" in panel  # an output
    errors = re.search(r'<table class="expression-errors">.*?</table>', panel, re.S)
    assert errors is not None
    assert "<code>${nope.missing}</code>" in errors.group(0)
    assert "<code>broken</code>" in errors.group(0)
    assert "nope" in re.sub(r"<code>.*?</code>", "", errors.group(0))  # the reason names the unknown name
    assert re.search(r"<td>evaluateVariables</td><td>.*?Succeeded.*?</td><td>1</td>", panel)  # a task, 1 attempt

    gate = StageExecution.objects.get(ref_id="2")
    panel = get(client, page_url(execution, f"stages/{gate.pk}/"))
    assert gate.status == "TERMINAL"
    assert f'<p class="error failure-message">{gate.failure_message}</p>'.replace("'", "&#x27;") in panel
    assert "is false." in gate.failure_message


def test_it_selects_a_stage_from_the_page_address_and_links_a_child_run(
    save: Callable[..., Pipeline], run: Callable[..., Execution], viewer: User
) -> None:
    execution = release(save, run)
    approve = StageExecution.objects.get(ref_id="2")
    page = get(browser_as(viewer), page_url(execution) + f"?selected={approve.pk}")
    assert '<h2>Approve <span class="status status-RUNNING">Running</span></h2>' in page
    assert f'id="selected-stage" name="selected" value="{approve.pk}"' in page
    # A pipeline stage links to the run it started (another engineer's stage writes these keys).
    StageExecution.objects.filter(pk=approve.pk).update(
        type="pipeline", context={"application": "shop", "executionId": str(execution.pk)}
    )
    page = get(browser_as(viewer), page_url(execution) + f"?selected={approve.pk}")
    assert f'<a href="{page_url(execution)}">Child pipeline run</a>' in page


def test_it_links_a_child_run_to_its_parent(
    save: Callable[..., Pipeline], developer: User, shop: object, viewer: User
) -> None:
    parent = actions.start_execution(developer, save(stage("1", "wait", waitTime=1)), source="api")
    child = actions.start_execution(
        developer,
        save(stage("1", "wait", waitTime=1), name="child"),
        trigger={"type": "pipeline", "parentExecution": {"id": str(parent.pk), "application": "shop"}},
        source="api",
    )
    page = get(browser_as(viewer), page_url(child))
    assert f'<a href="{page_url(parent)}">parent run</a>' in page
    assert "triggered by pipeline (developer)" in page


def test_it_hides_secret_looking_context_values(
    save: Callable[..., Pipeline], run: Callable[..., Execution], viewer: User
) -> None:
    execution = run(save(stage("1", "wait", "Soak", waitTime=600, apiToken="tok-123", password="hunter2")))
    soak = StageExecution.objects.get(ref_id="1")
    panel = get(browser_as(viewer), page_url(execution, f"stages/{soak.pk}/"))
    assert "tok-123" not in panel
    assert "hunter2" not in panel
    assert "&quot;apiToken&quot;: &quot;********&quot;" in panel
    assert "&quot;waitTime&quot;: 600" in panel


def test_it_offers_executors_only_the_actions_that_apply(
    save: Callable[..., Pipeline], run: Callable[..., Execution], developer: User, viewer: User
) -> None:
    execution = release(save, run)
    page = get(browser_as(developer), page_url(execution))
    assert ">Pause</button>" in page
    assert ">Resume</button>" not in page
    assert ">Cancel run</button>" in page
    assert 'aria-label="Judge Approve"' in page
    assert '<option value="hold">hold</option>' in page
    assert "Skip wait" not in page

    viewer_page = get(browser_as(viewer), page_url(execution))
    assert "<form" not in viewer_page.split('id="execution-live"')[1].replace("logout", "")
    assert "Cancel run" not in viewer_page
    assert "Pause" not in viewer_page

    actions.judge(developer, execution, "2", "continue", judgment_input="go", source="api")
    run_due_tasks()
    page = get(browser_as(developer), page_url(execution))
    assert "Skip wait: Soak</button>" in page
    assert 'aria-label="Judge Approve"' not in page
    assert "Restart" not in page


def test_it_offers_a_restart_of_an_ended_stage_in_its_panel(
    save: Callable[..., Pipeline], run: Callable[..., Execution], developer: User, viewer: User
) -> None:
    execution = release(save, run)
    actions.judge(developer, execution, "2", "stop", source="api")
    run_due_tasks()
    approve = StageExecution.objects.get(ref_id="2")
    assert approve.status == "TERMINAL"
    page = get(browser_as(developer), page_url(execution) + f"?selected={approve.pk}")
    assert ">Restart Approve</button>" in page
    assert ">Cancel run</button>" not in page  # the run ended
    assert ">Pause</button>" not in page
    assert "Restart" not in get(browser_as(viewer), page_url(execution) + f"?selected={approve.pk}")
    preflight = StageExecution.objects.get(ref_id="1<1")
    assert "Restart" not in get(browser_as(developer), page_url(execution) + f"?selected={preflight.pk}")


def test_it_hides_judgments_from_people_outside_their_roles(
    save: Callable[..., Pipeline], run: Callable[..., Execution], developer: User
) -> None:
    execution = run(save(stage("1", "manualJudgment", "Approve", selectedStageRoles=["release-managers"])))
    page = get(browser_as(developer), page_url(execution))
    assert 'aria-label="Judge Approve"' not in page
    assert ">Cancel run</button>" in page


def test_it_answers_404_to_outsiders_on_every_execution_url(
    save: Callable[..., Pipeline], run: Callable[..., Execution], outsider: User
) -> None:
    execution = release(save, run)
    stage_id = StageExecution.objects.get(ref_id="2").pk
    client = browser_as(outsider)
    for url in (page_url(execution), page_url(execution, "live/"), page_url(execution, f"stages/{stage_id}/")):
        assert client.get(url).status_code == 404, url
    assert client.post(page_url(execution, "pause/"), headers=HTMX).status_code == 404
    assert Execution.objects.get().status == "RUNNING"


def test_it_answers_404_for_a_stage_of_another_execution(
    save: Callable[..., Pipeline], run: Callable[..., Execution], viewer: User
) -> None:
    first = release(save, run)
    other = run(save(stage("1", "wait", waitTime=600), name="other"))
    foreign = StageExecution.objects.get(execution=other).pk
    assert browser_as(viewer).get(page_url(first, f"stages/{foreign}/")).status_code == 404


def test_it_polls_while_running_answers_204_when_unchanged_and_stops_once_ended(
    save: Callable[..., Pipeline], run: Callable[..., Execution], developer: User
) -> None:
    execution = release(save, run)
    client = browser_as(developer)
    fragment = get(client, page_url(execution, "live/"), **HTMX)
    assert fragment.startswith("<div")  # only the live part, no page around it
    assert 'hx-trigger="every 2s"' in fragment
    version = re.search(r'data-version="(\w+)"', fragment)
    assert version is not None
    polled = client.get(page_url(execution, f"live/?version={version.group(1)}"), headers=HTMX)
    assert polled.status_code == 204

    actions.cancel(developer, execution, source="api")
    ended = client.get(page_url(execution, f"live/?version={version.group(1)}"), headers=HTMX)
    assert ended.status_code == 200
    body = ended.content.decode()
    assert 'data-status="CANCELED"' in body
    assert "hx-trigger" not in body.split(">", 1)[0]  # the live part no longer polls
    assert "every 2s" not in body


def test_it_answers_an_htmx_action_with_the_live_part_and_the_outcome(
    save: Callable[..., Pipeline], run: Callable[..., Execution], developer: User
) -> None:
    execution = release(save, run)
    client = browser_as(developer)
    approve = StageExecution.objects.get(ref_id="2")
    response = client.post(
        page_url(execution, "judge/"),
        {"stage": "2", "judgment": "continue", "input": "go", "selected": str(approve.pk)},
        headers=HTMX,
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert body.startswith('<div id="execution-live"')
    assert "Judgment recorded." in body
    assert f'id="selected-stage" name="selected" value="{approve.pk}"' in body  # the panel stays open
    run_due_tasks()
    assert StageExecution.objects.get(ref_id="2").status == "SUCCEEDED"

    refused = client.post(page_url(execution, "cancel/"), {"reason": "oops"}, headers=HTMX)
    assert '<p class="action-message error" role="alert">Tick the box to confirm the cancel.</p>' in (
        refused.content.decode()
    )
    refused = client.post(page_url(execution, "resume/"), headers=HTMX)
    assert "Only a paused execution can be resumed; this one is RUNNING." in refused.content.decode()
    paused = client.post(page_url(execution, "pause/"), headers=HTMX).content.decode()
    assert 'data-status="PAUSED"' in paused
    assert ">Resume</button>" in paused


def test_it_keeps_redirecting_plain_form_posts(
    save: Callable[..., Pipeline], run: Callable[..., Execution], developer: User
) -> None:
    execution = release(save, run)
    response = browser_as(developer).post(page_url(execution, "pause/"), follow=True)
    assert response.redirect_chain == [(page_url(execution), 302)]
    assert "Paused." in response.content.decode()


def pipeline_of(size: int, save: Callable[..., Pipeline]) -> Pipeline:
    stages = [stage("0", "checkPreconditions", "Gate", preconditions=[{"context": {"expression": "true"}}])]
    stages += [stage(str(i), "wait", f"Wait {i}", ("0",), waitTime=600) for i in range(1, size)]
    return save(*stages, name=f"fan-{size}")


@pytest.mark.parametrize("suffix", ["", "live/", "stages/"])
def test_it_runs_as_many_queries_for_30_stages_as_for_3(
    save: Callable[..., Pipeline], run: Callable[..., Execution], developer: User, suffix: str
) -> None:
    counts = []
    for size in (3, 30):
        execution = run(pipeline_of(size, save))
        url = page_url(execution, suffix)
        if suffix == "stages/":
            url += f"{StageExecution.objects.get(execution=execution, ref_id='0').pk}/"
        client = browser_as(developer)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url, headers=HTMX).status_code == 200
        assert execution.stages.count() == size + 1
        assert execution.status == "RUNNING"
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_it_shows_the_traffic_share_of_a_rolling_step(
    save: Callable[..., Pipeline], run: Callable[..., Execution], viewer: User
) -> None:
    # A rolling blue/green step records its split as trafficShare (clouds/stages/strategies).
    execution = release(save, run)
    soak = execution.stages.get(ref_id="3")
    StageExecution.objects.filter(pk=soak.pk).update(context={"trafficShare": {"new": 33, "old": 67}})

    panel = get(browser_as(viewer), page_url(execution, f"stages/{soak.pk}/"))

    assert "Traffic at this step: new server group <strong>33 %</strong>, old <strong>67 %</strong>." in panel
