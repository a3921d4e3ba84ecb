"""What expressions in a stage see when it starts, and the evaluation of the stage's fields."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pipelines.expressions import ExpressionError, ExpressionFailure, Scope, evaluate_condition, evaluate_tree
from pipelines.models import Execution, StageExecution
from pipelines.statuses import COMPLETED

# Keys the engine reads itself; they are not evaluated as part of the stage's context.
CONTROL_KEYS = {"stageEnabled"}


@dataclass
class Evaluation:
    context: dict[str, Any]
    failures: list[ExpressionFailure] = field(default_factory=list)
    enabled: bool = True


def stage_view(stage: StageExecution) -> dict[str, Any]:
    """A stage as expressions see it (``#stage('Deploy')['context']['x']``)."""
    return {
        "id": str(stage.id),
        "refId": stage.ref_id,
        "name": stage.name,
        "type": stage.type,
        "status": stage.status,
        "context": stage.context,
        "outputs": stage.outputs,
        "startTime": stage.started_at.isoformat() if stage.started_at else None,
        "endTime": stage.ended_at.isoformat() if stage.ended_at else None,
    }


def scope_for(execution: Execution, stage: StageExecution) -> Scope:
    stages = list(execution.stages.order_by("position"))
    by_name: dict[str, StageExecution] = {}
    for row in stages:
        by_name.setdefault(row.name, row)
    by_ref = {row.ref_id: row for row in stages}
    root: dict[str, Any] = {}
    # Outputs of finished stages (evaluated variables among them) are visible by name, as in Orca.
    for row in stages:
        if row.status in COMPLETED and row.pk != stage.pk:
            root.update(row.outputs)
    root.update(
        {
            "parameters": execution.parameters,
            "trigger": execution.trigger,
            "execution": {
                "id": str(execution.id),
                "application": execution.application.name,
                "name": execution.name,
                "status": execution.status,
                "stages": [stage_view(row) for row in stages],
            },
        }
    )

    def find(name: str) -> StageExecution:
        row = by_name.get(name)
        if row is None:
            raise ExpressionError(f"No stage named {name!r} in this execution.")
        return row

    def judgment(name: str) -> Any:
        return find(name).context.get("judgmentInput")

    functions: dict[str, Callable[..., Any]] = {
        "stage": lambda name: stage_view(find(str(name))),
        "stageByRefId": lambda ref: stage_view(by_ref[str(ref)]) if str(ref) in by_ref else None,
        "stageExists": lambda name: str(name) in by_name or str(name) in by_ref,
        "judgment": judgment,
        "currentStage": lambda: stage_view(stage),
    }
    return Scope(root=root, functions=functions)


def evaluate_stage(execution: Execution, stage: StageExecution) -> Evaluation:
    """Evaluate ``${…}`` in every string of the stage's config; failures keep the literal text."""
    if "${" not in json.dumps(stage.config) and "stageEnabled" not in stage.config:
        return Evaluation(context=dict(stage.config))  # nothing to evaluate: skip building the scope
    scope = scope_for(execution, stage)
    from pipelines.engine.types import stage_type

    skip = CONTROL_KEYS | stage_type(stage.type).unevaluated
    config = {key: value for key, value in stage.config.items() if key not in skip}
    context, failures = evaluate_tree(config, scope)
    kept = {key: value for key, value in stage.config.items() if key in skip}
    evaluation = Evaluation(context={**kept, **dict(context)}, failures=list(failures))
    condition = stage.config.get("stageEnabled")
    if isinstance(condition, dict) and condition.get("type") == "expression":
        expression = str(condition.get("expression", ""))
        try:
            evaluation.enabled = evaluate_condition(expression, scope)
        except ExpressionError as exc:
            # As Orca: a condition that cannot be decided skips the stage, and says why.
            evaluation.enabled = False
            evaluation.failures.append(
                ExpressionFailure(
                    expression=expression, reason=str(exc), position=exc.position, path="stageEnabled.expression"
                )
            )
    return evaluation
