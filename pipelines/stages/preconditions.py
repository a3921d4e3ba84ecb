"""``checkPreconditions``: each precondition is a synthetic child that fails or halts its branch."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipelines.engine.context import scope_for
from pipelines.engine.types import (
    StageType,
    SyntheticStage,
    Task,
    TaskContext,
    TaskResult,
    register_stage,
    register_task,
)
from pipelines.expressions import ExpressionError, evaluate_condition
from pipelines.models import StageExecution


@register_stage
class CheckPreconditionsStage(StageType):
    type = "checkPreconditions"
    label = "Check preconditions"

    def check(self, stage: Mapping[str, Any]) -> list[tuple[str, str]]:
        items = stage.get("preconditions")
        if not isinstance(items, list) or not items:
            return [("preconditions", "preconditions must be a non-empty list.")]
        issues = []
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                issues.append((f"preconditions[{index}]", "A precondition must be an object."))
                continue
            if item.get("type", "expression") != "expression":
                issues.append((f"preconditions[{index}].type", "Only expression preconditions are supported."))
            expression = (item.get("context") or {}).get("expression")
            if not isinstance(expression, (str, bool)) or expression == "":
                issues.append(
                    (f"preconditions[{index}].context.expression", "An expression precondition needs an expression.")
                )
            if "failPipeline" in item and not isinstance(item["failPipeline"], bool):
                issues.append((f"preconditions[{index}].failPipeline", "failPipeline must be true or false."))
        return issues

    def before_stages(self, stage: StageExecution) -> list[SyntheticStage]:
        # As Orca: one child per precondition, its context the parent's merged with the precondition's.
        children = []
        for index, item in enumerate(stage.context.get("preconditions", []), start=1):
            context = {
                **item.get("context", {}),
                "failPipeline": item.get("failPipeline", True),
                "preconditionType": item.get("type", "expression"),
            }
            children.append(SyntheticStage("checkPrecondition", f"Check precondition {index}", context))
        return children


@register_stage
class CheckPreconditionStage(StageType):
    type = "checkPrecondition"
    label = "Check precondition"

    def tasks(self, stage: StageExecution) -> list[str]:
        return ["checkExpressionPrecondition"]


@register_task
class ExpressionPreconditionTask(Task):
    name = "checkExpressionPrecondition"

    def run(self, ctx: TaskContext) -> TaskResult:
        expression = ctx.stage.context.get("expression")
        if isinstance(expression, bool):  # written as ${…}, already evaluated when the stage started
            passed = expression
        else:
            try:
                passed = evaluate_condition(str(expression), scope_for(ctx.execution, ctx.stage))
            except ExpressionError as exc:
                return TaskResult.terminal(f"The precondition {expression!r} could not be evaluated: {exc}")
        if passed:
            return TaskResult.succeeded()
        return TaskResult.terminal(f"The precondition {ctx.stage.config.get('expression')!r} is false.")
