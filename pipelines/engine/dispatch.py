"""Handing tasks to workers: always after commit, never holding state in the message."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import transaction


def enqueue_after_commit(task_ids: Iterable[Any]) -> None:
    """Queue ``run_task`` for each id once the surrounding transaction commits.

    With ``SPINWEB_ENGINE_DISPATCH = "none"`` nothing is queued: tests drive the engine
    themselves with :func:`pipelines.engine.runner.run_due_tasks`.
    """
    ids = [str(task_id) for task_id in task_ids]
    if not ids or settings.SPINWEB_ENGINE_DISPATCH == "none":
        return
    transaction.on_commit(lambda: _enqueue(ids))


def _enqueue(ids: list[str]) -> None:
    from django_q.tasks import async_task

    for task_id in ids:
        async_task("pipelines.tasks.run_task", task_id, task_name=f"task-{task_id}"[:100], save=False)
