"""Handing tasks to workers: always after commit, never holding state in the message.

A worker that has just finished a task keeps going with one of the tasks its result made due
(the next task of the stage, or the first task of a downstream stage) instead of sending it
through the broker and waiting for it to come back: see :func:`collecting`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import transaction

_local = threading.local()


def enqueue_after_commit(task_ids: Iterable[Any]) -> None:
    """Queue ``run_task`` for each id once the surrounding transaction commits.

    Inside :func:`collecting` the ids are handed to the collecting worker instead. With
    ``SPINWEB_ENGINE_DISPATCH = "none"`` nothing is queued: tests drive the engine themselves
    with :func:`pipelines.engine.runner.run_due_tasks`.
    """
    ids = [str(task_id) for task_id in task_ids]
    collector: list[str] | None = getattr(_local, "collector", None)
    if collector is not None:
        collector.extend(ids)
        return
    if not ids or settings.SPINWEB_ENGINE_DISPATCH == "none":
        return
    transaction.on_commit(lambda: enqueue(ids))


@contextmanager
def collecting() -> Iterator[list[str]]:
    """Collect the ids that would be queued; the caller runs or queues them after commit."""
    previous = getattr(_local, "collector", None)
    collected: list[str] = []
    _local.collector = collected
    try:
        yield collected
    finally:
        _local.collector = previous


def enqueue(ids: list[str]) -> None:
    if not ids or settings.SPINWEB_ENGINE_DISPATCH == "none":
        return
    from django_q.tasks import async_task

    for task_id in ids:
        async_task("pipelines.tasks.run_task", task_id, task_name=f"task-{task_id}"[:100], save=False)
