"""limitConcurrent, keepWaitingPipelines and maxConcurrentExecutions, as in Spinnaker."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth.models import User

from pipelines import actions
from pipelines.engine.runner import run_due_tasks
from pipelines.models import Execution, Pipeline
from tests.pipelines.conftest import stage


def gate() -> dict[str, object]:
    return stage("1", "manualJudgment", "Approve")


def refresh(*executions: Execution) -> list[str]:
    return [Execution.objects.get(pk=e.pk).status for e in executions]


def test_it_buffers_new_runs_and_starts_only_the_newest(
    save: Callable[..., Pipeline], run: Callable[..., Execution], developer: User
) -> None:
    pipeline = save(gate())
    first, second, third = run(pipeline), run(pipeline), run(pipeline)
    assert refresh(first, second, third) == ["RUNNING", "BUFFERED", "BUFFERED"]
    actions.judge(developer, first, "Approve", "continue", source="api")
    run_due_tasks()
    assert refresh(first, second, third) == ["SUCCEEDED", "CANCELED", "RUNNING"]
    assert Execution.objects.get(pk=second.pk).cancellation_reason.startswith("A newer run")


def test_it_keeps_waiting_runs_in_order_when_asked(
    save: Callable[..., Pipeline], run: Callable[..., Execution], developer: User
) -> None:
    pipeline = save(gate(), keepWaitingPipelines=True)
    first, second, third = run(pipeline), run(pipeline), run(pipeline)
    actions.judge(developer, first, "Approve", "continue", source="api")
    run_due_tasks()
    assert refresh(first, second, third) == ["SUCCEEDED", "RUNNING", "BUFFERED"]
    actions.cancel(developer, second, source="api")
    assert refresh(second, third) == ["CANCELED", "RUNNING"]


def test_it_caps_runs_with_max_concurrent_executions(
    save: Callable[..., Pipeline], run: Callable[..., Execution], developer: User
) -> None:
    pipeline = save(gate(), limitConcurrent=False, maxConcurrentExecutions=2)
    runs = [run(pipeline) for _ in range(3)]
    assert refresh(*runs) == ["RUNNING", "RUNNING", "BUFFERED"]
    actions.cancel(developer, runs[0], source="api")
    assert refresh(*runs) == ["CANCELED", "RUNNING", "RUNNING"]


def test_it_runs_without_limit_when_told(save: Callable[..., Pipeline], run: Callable[..., Execution]) -> None:
    pipeline = save(gate(), limitConcurrent=False)
    runs = [run(pipeline) for _ in range(4)]
    assert refresh(*runs) == ["RUNNING"] * 4
