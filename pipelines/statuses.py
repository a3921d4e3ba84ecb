"""Execution, stage and task statuses (Orca's ``ExecutionStatus``) and the transitions allowed.

This module is the only place that decides whether a status may change to another. Rows change
status by compare-and-swap through :func:`swap`, never by a plain ``save()``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import models
from django.utils import timezone


class Status(models.TextChoices):
    NOT_STARTED = "NOT_STARTED", "Not started"
    BUFFERED = "BUFFERED", "Waiting (concurrency limit)"
    RUNNING = "RUNNING", "Running"
    PAUSED = "PAUSED", "Paused"
    SUCCEEDED = "SUCCEEDED", "Succeeded"
    FAILED_CONTINUE = "FAILED_CONTINUE", "Failed (continued)"
    TERMINAL = "TERMINAL", "Terminal"
    CANCELED = "CANCELED", "Canceled"
    STOPPED = "STOPPED", "Stopped"
    SKIPPED = "SKIPPED", "Skipped"


ACTIVE = frozenset({Status.NOT_STARTED, Status.BUFFERED, Status.RUNNING, Status.PAUSED})
COMPLETED = frozenset(
    {Status.SUCCEEDED, Status.FAILED_CONTINUE, Status.TERMINAL, Status.CANCELED, Status.STOPPED, Status.SKIPPED}
)
# A completed upstream in one of these lets downstream stages start.
PASSABLE = frozenset({Status.SUCCEEDED, Status.FAILED_CONTINUE, Status.SKIPPED})
# A completed stage in one of these halts its branch.
HALTED = frozenset({Status.TERMINAL, Status.STOPPED, Status.CANCELED})

ALLOWED: dict[str, frozenset[str]] = {
    Status.BUFFERED: frozenset({Status.NOT_STARTED, Status.RUNNING, Status.CANCELED}),
    Status.NOT_STARTED: frozenset({Status.RUNNING, Status.BUFFERED, Status.SKIPPED, Status.CANCELED}),
    Status.RUNNING: frozenset(COMPLETED | {Status.PAUSED}),
    # A task already running when its execution paused may still finish its stage.
    Status.PAUSED: frozenset(COMPLETED | {Status.RUNNING}),
    # A restart puts a completed stage back to NOT_STARTED, and its execution back to RUNNING.
    **{status: frozenset({Status.NOT_STARTED, Status.RUNNING}) for status in COMPLETED},
}


class InvalidTransition(ValueError):
    """A status change the lifecycle does not allow."""


def check(old: str, new: str) -> None:
    if new not in ALLOWED.get(old, frozenset()):
        raise InvalidTransition(f"A status cannot change from {old} to {new}.")


def swap(
    queryset: models.QuerySet[Any] | models.Manager[Any], pk: Any, old: Iterable[str], new: str, **fields: Any
) -> bool:
    """Compare-and-swap: move the row from one of ``old`` to ``new``; False if another writer won."""
    olds = [status for status in old if new in ALLOWED.get(status, frozenset())]
    if not olds:
        raise InvalidTransition(f"No status among {', '.join(old)} may change to {new}.")
    if new in COMPLETED and "ended_at" not in fields:
        fields["ended_at"] = timezone.now()
    return bool(queryset.filter(pk=pk, status__in=olds).update(status=new, **fields))


def failure_status(config: dict[str, Any]) -> str:
    """A failing stage's status from its "if stage fails" options (orca ``Stage.failureStatus``)."""
    if config.get("continuePipeline"):
        return Status.FAILED_CONTINUE
    if config.get("failPipeline", True):
        return Status.TERMINAL
    return Status.STOPPED


def derive_stage_status(config: dict[str, Any], children: Iterable[str]) -> str:
    """A stage's status from its tasks and synthetic children (orca ``CompleteStageHandler``)."""
    statuses = set(children)
    if Status.TERMINAL in statuses:
        return failure_status(config)
    for status in (Status.STOPPED, Status.CANCELED, Status.FAILED_CONTINUE):
        if status in statuses:
            return status
    return Status.SUCCEEDED
