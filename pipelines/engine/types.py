"""Stage types and task types: small classes in registries, looked up by name.

A stage type plans its tasks and may add synthetic stages before or after itself, or on its
failure. A task runs one step and answers with a :class:`TaskResult`; it is re-run while it
answers RUNNING, at the time it asks for, on whichever worker is free.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from pipelines.statuses import Status

if TYPE_CHECKING:
    from pipelines.models import Execution, StageExecution, TaskExecution


class TransientError(Exception):
    """A failure worth retrying (a timeout, a 5xx): the task runs again after a backoff."""


@dataclass
class TaskResult:
    status: str
    message: str = ""
    outputs: dict[str, Any] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)
    wake_at: datetime | None = None

    @classmethod
    def succeeded(cls, **outputs: Any) -> TaskResult:
        return cls(Status.SUCCEEDED, outputs=outputs)

    @classmethod
    def terminal(cls, message: str) -> TaskResult:
        return cls(Status.TERMINAL, message=message)

    @classmethod
    def running(cls, wake_at: datetime | None, **context: Any) -> TaskResult:
        """Not done: run again at ``wake_at`` (None: only when an operator action wakes it)."""
        return cls(Status.RUNNING, wake_at=wake_at, context=context)


@dataclass
class TaskContext:
    execution: Execution
    stage: StageExecution
    task: TaskExecution

    @property
    def idempotency_key(self) -> str:
        return self.task.idempotency_key


class Task:
    """One step of a stage. ``run`` must be safe to call again after a crash (use the key)."""

    name: ClassVar[str]
    timeout: ClassVar[timedelta] = timedelta(hours=1)
    # Delay before re-running after a transient error, doubled each time up to a minute.
    backoff: ClassVar[timedelta] = timedelta(seconds=1)
    max_transient_failures: ClassVar[int] = 8
    # A task that may run longer than SPINWEB_TASK_LEASE_SECONDS (an HTTP call with a long read
    # timeout) asks for a longer claim, so no other worker takes it over while it still runs.
    lease: ClassVar[timedelta | None] = None

    def run(self, ctx: TaskContext) -> TaskResult:
        raise NotImplementedError

    def on_cancel(self, ctx: TaskContext) -> None:
        """Undo or stop what ``run`` started, when the execution is canceled while this runs."""


@dataclass
class SyntheticStage:
    type: str
    name: str
    context: dict[str, Any] = field(default_factory=dict)


class StageType:
    """A kind of stage (``wait``, ``manualJudgment`` …)."""

    type: ClassVar[str]
    label: ClassVar[str] = ""
    # Fields the stage's tasks evaluate themselves, left as written when the stage starts.
    unevaluated: ClassVar[frozenset[str]] = frozenset()

    def check(self, stage: Mapping[str, Any]) -> list[tuple[str, str]]:
        """Save-time checks of the stage's own fields: ``[(field path, sentence)]``."""
        return []

    def tasks(self, stage: StageExecution) -> list[str]:
        return []

    def before_stages(self, stage: StageExecution) -> list[SyntheticStage]:
        """Stages to run in parallel before this stage's tasks."""
        return []

    def after_stages(self, stage: StageExecution) -> list[SyntheticStage]:
        """Stages to run one after another once the tasks succeeded (planned then, not earlier)."""
        return []

    def on_failure_stages(self, stage: StageExecution) -> list[SyntheticStage]:
        """Stages to run one after another when the stage failed (rollbacks)."""
        return []


STAGE_TYPES: dict[str, StageType] = {}
TASKS: dict[str, Task] = {}


def register_stage(cls: type[StageType]) -> type[StageType]:
    STAGE_TYPES[cls.type] = cls()
    return cls


def register_task(cls: type[Task]) -> type[Task]:
    TASKS[cls.name] = cls()
    return cls


def stage_type(name: str) -> StageType:
    try:
        return STAGE_TYPES[name]
    except KeyError:
        raise LookupError(f"Unknown stage type {name!r}.") from None
