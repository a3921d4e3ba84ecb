"""The pipeline pages: list with run form, execution page with its operator actions."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth.models import User

from pipelines.engine.runner import run_due_tasks
from pipelines.models import Execution, Pipeline
from tests.conftest import browser_as
from tests.pipelines.conftest import stage


def release(save: Callable[..., Pipeline]) -> Pipeline:
    return save(
        stage("1", "manualJudgment", "Approve", instructions="Check the dashboards", judgmentInputs=[{"value": "go"}]),
        stage("2", "wait", "Soak", ("1",), waitTime=600),
        parameterConfig=[
            {
                "name": "env",
                "required": True,
                "hasOptions": True,
                "options": [{"value": "qa"}, {"value": "prod"}],
                "default": "qa",
            }
        ],
    )


def test_it_lists_pipelines_with_a_run_form_for_executors(
    save: Callable[..., Pipeline], developer: User, viewer: User
) -> None:
    release(save)
    page = browser_as(developer).get("/applications/shop/pipelines/").content.decode()
    assert "<strong>deploy</strong>" in page
    assert "Start manual execution" in page
    assert '<option value="qa" selected>qa</option>' in page
    assert "Start manual execution" not in browser_as(viewer).get("/applications/shop/pipelines/").content.decode()


def test_it_runs_from_the_form_and_shows_the_run(save: Callable[..., Pipeline], developer: User) -> None:
    pipeline = release(save)
    client = browser_as(developer)
    response = client.post(f"/applications/shop/pipelines/{pipeline.pk}/run/", {"param-env": "prod"})
    execution = Execution.objects.get()
    assert response["Location"] == f"/applications/shop/executions/{execution.pk}/"
    assert execution.parameters == {"env": "prod"}
    page = client.get(response["Location"]).content.decode()
    assert "Check the dashboards" in page
    assert 'value="continue"' in page
    assert "<code>env=prod</code>" in page


def test_it_judges_skips_and_cancels_from_the_page(save: Callable[..., Pipeline], developer: User) -> None:
    pipeline = release(save)
    client = browser_as(developer)
    client.post(f"/applications/shop/pipelines/{pipeline.pk}/run/", {"param-env": "qa"})
    execution = Execution.objects.get()
    base = f"/applications/shop/executions/{execution.pk}/"
    client.post(f"{base}judge/", {"stage": "1", "judgment": "continue", "input": "go"})
    run_due_tasks()
    assert execution.stages.get(name="Approve").status == "SUCCEEDED"
    assert "Skip wait" in client.get(base).content.decode()
    refused = client.post(f"{base}cancel/", {"reason": "oops"}, follow=True)
    assert "Tick the box to confirm the cancel." in refused.content.decode()
    assert Execution.objects.get().status == "RUNNING"
    client.post(f"{base}cancel/", {"reason": "oops", "confirm": "yes"})
    assert Execution.objects.get().status == "CANCELED"


def test_it_shows_why_an_action_was_refused(save: Callable[..., Pipeline], developer: User) -> None:
    pipeline = release(save)
    client = browser_as(developer)
    client.post(f"/applications/shop/pipelines/{pipeline.pk}/run/", {"param-env": "qa"})
    execution = Execution.objects.get()
    page = client.post(f"/applications/shop/executions/{execution.pk}/restart/", {"stage": "1"}, follow=True)
    assert "has not ended" in page.content.decode()


def test_it_refuses_a_run_with_a_bad_parameter_and_says_why(save: Callable[..., Pipeline], developer: User) -> None:
    pipeline = release(save)
    page = browser_as(developer).post(
        f"/applications/shop/pipelines/{pipeline.pk}/run/", {"param-env": "staging"}, follow=True
    )
    assert "env must be one of qa, prod, not &#x27;staging&#x27;." in page.content.decode()
    assert not Execution.objects.exists()


def test_it_hides_executions_of_other_applications(
    save: Callable[..., Pipeline], developer: User, blog: object
) -> None:
    pipeline = release(save)
    browser_as(developer).post(f"/applications/shop/pipelines/{pipeline.pk}/run/", {"param-env": "qa"})
    execution = Execution.objects.get()
    assert browser_as(developer).get(f"/applications/blog/executions/{execution.pk}/").status_code == 404


def test_it_lists_synthetic_stages_under_their_parent(save: Callable[..., Pipeline], developer: User) -> None:
    pipeline = save(
        stage(
            "1",
            "checkPreconditions",
            "Preflight",
            preconditions=[{"type": "expression", "context": {"expression": "true"}}],
        ),
        stage("2", "manualJudgment", "Approve", ("1",)),
    )
    client = browser_as(developer)
    client.post(f"/applications/shop/pipelines/{pipeline.pk}/run/")
    run_due_tasks()
    page = client.get(f"/applications/shop/executions/{Execution.objects.get().pk}/").content.decode()
    graph = page[page.index("<svg") :]
    assert graph.index("Preflight") < graph.index("Check precondition 1") < graph.index("Approve")
