"""Deployment strategies: what a ``createServerGroup`` stage's ``strategy`` does around its new group.

Each strategy is a list of synthetic stages the execution page shows (``plans``), built from the
stage's context once the new group is healthy, plus a rollback planned when the stage fails:

- ``""`` / ``"none"``: the new group is created taking traffic next to the others; nothing else.
- ``redblack`` (Blue/Green): the new group is created out of traffic; once healthy
  (``targetHealthyDeployPercentage``) it is enabled, then after ``delayBeforeDisableSec`` the older
  groups are disabled (``disableCluster``), the ``maxRemainingAsgs`` (2) newest are kept
  (``shrinkCluster``) and, with ``scaleDown``, after ``delayBeforeScaleDownSec`` the older ones go
  to zero (``scaleDownCluster``).
- ``highlander``: like redblack, then every older group is destroyed.
- ``rollingredblack``: the new group starts at zero, out of traffic; for each of
  ``targetPercentages`` ([50, 100]; 100 is added when missing) it grows to that share of the
  source's capacity, takes that share of the traffic (``moveTraffic``), waits
  ``delayBeforeCleanup`` seconds, runs ``pipelineBeforeCleanup`` and asks a
  ``manualJudgmentBeforeCleanup``, then the source gives up as much capacity (``scaleDownSource``).

Failure: rolling always rolls back; redblack and highlander with ``rollback.onFailure``. The
rollback (``rollbackDeploy``) gives the source its capacity and all traffic back, waits until it
is healthy, then disables the new group (destroyed with ``rollback.destroyLatest``). A cancel, or
a failure elsewhere that halts the run, is handled by ``interrupts``.
"""

from __future__ import annotations

from clouds.stages.strategies import interrupts, steps
from clouds.stages.strategies.fields import issues as entry_issues
from clouds.stages.strategies.fields import strategy_of
from clouds.stages.strategies.plans import adjust_spec, after_plan, failure_plan, source_tasks
from pipelines.engine.types import SyntheticStage
from pipelines.models import StageExecution
from pipelines.statuses import HALTED

__all__ = [
    "adjust_spec",
    "after_stages",
    "entry_issues",
    "failure_stages",
    "interrupts",
    "source_tasks",
    "steps",
]


def after_stages(stage: StageExecution) -> list[SyntheticStage]:
    return after_plan(stage.context)


def failure_stages(stage: StageExecution) -> list[SyntheticStage]:
    if not strategy_of(stage.context):
        return []
    return failure_plan(stage.context, failure_reason(stage))


def failure_reason(stage: StageExecution) -> str:
    """What failed: the first strategy step that did, else the stage's own task."""
    failed = (
        stage.children.exclude(synthetic_owner=StageExecution.Owner.FAILURE)
        .filter(status__in=HALTED)
        .order_by("position")
        .values_list("name", "failure_message")
        .first()
    )
    if failed is not None:
        name, message = failed
        return f"{name} failed: {message}" if message else f"{name} failed."
    return stage.failure_message or f"{stage.name} failed."
