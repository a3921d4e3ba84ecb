"""Engine tests drive the engine in-process: nothing is queued (dispatch "none") and the test
runs due tasks itself with ``run_due_tasks``; the clock can be moved forward."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User

from applications.models import Application
from pipelines import actions
from pipelines.engine import clock
from pipelines.engine.runner import run_due_tasks
from pipelines.models import Execution, Pipeline


@pytest.fixture(autouse=True)
def _inline_engine(settings: Any) -> None:
    settings.SPINWEB_ENGINE_DISPATCH = "none"


class Clock:
    def __init__(self) -> None:
        self.offset = timedelta()

    def now(self) -> datetime:
        return self.real() + self.offset

    def real(self) -> datetime:
        from django.utils import timezone

        return timezone.now()

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)

    def travel_to(self, moment: datetime) -> None:
        self.offset = moment - self.real()


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    moved = Clock()
    monkeypatch.setattr(clock, "now", moved.now)
    return moved


def stage(
    ref: str, type: str, name: str | None = None, requires: tuple[str, ...] = (), **fields: Any
) -> dict[str, Any]:
    return {
        "refId": ref,
        "type": type,
        "name": name or f"{type} {ref}",
        "requisiteStageRefIds": list(requires),
        **fields,
    }


@pytest.fixture
def save(shop: Application, developer: User) -> Callable[..., Pipeline]:
    def save(*stages: dict[str, Any], name: str = "deploy", **fields: Any) -> Pipeline:
        document = {"application": "shop", "name": name, "stages": list(stages), **fields}
        return actions.save_pipeline(developer, document, source="api")

    return save


@pytest.fixture
def run(developer: User) -> Callable[..., Execution]:
    def run(pipeline: Pipeline, drain: bool = True, **parameters: Any) -> Execution:
        execution = actions.start_execution(developer, pipeline, parameters=parameters, source="api")
        if drain:
            run_due_tasks()
        execution.refresh_from_db()
        return execution

    return run


def statuses(execution: Execution) -> dict[str, str]:
    execution.refresh_from_db()
    return {row.name: row.status for row in execution.stages.all()}
