"""django-q2 entry points of the pipeline engine. Thin: they take ids and call the engine."""

from __future__ import annotations

from pipelines.engine import runner


def run_task(task_id: str) -> None:
    runner.run_task(task_id)


def run_cancel_hook(task_id: str) -> None:
    runner.run_cancel_hook(task_id)
