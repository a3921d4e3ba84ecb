"""``evaluateVariables``: evaluate ``variables[{key, value}]`` in order; later stages use ``${key}``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from pipelines.engine.context import scope_for
from pipelines.engine.types import StageType, Task, TaskContext, TaskResult, register_stage, register_task
from pipelines.expressions import ExpressionError, evaluate_text
from pipelines.models import StageExecution

KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@register_stage
class EvaluateVariablesStage(StageType):
    type = "evaluateVariables"
    label = "Evaluate variables"
    unevaluated = frozenset({"variables"})

    def check(self, stage: Mapping[str, Any]) -> list[tuple[str, str]]:
        variables = stage.get("variables")
        if not isinstance(variables, list) or not variables:
            return [("variables", 'variables must be a non-empty list of {"key", "value"}.')]
        issues = []
        seen: set[str] = set()
        for index, item in enumerate(variables):
            key = item.get("key") if isinstance(item, dict) else None
            if not isinstance(key, str) or not KEY_RE.match(key):
                issues.append((f"variables[{index}].key", "A variable key is a name: letters, digits and _."))
            elif key in seen:
                issues.append((f"variables[{index}].key", f"The variable {key!r} is defined twice."))
            else:
                seen.add(key)
            if not isinstance(item, dict) or "value" not in item:
                issues.append((f"variables[{index}].value", "Each variable needs a value."))
        return issues

    def tasks(self, stage: StageExecution) -> list[str]:
        return ["evaluateVariables"]


@register_task
class EvaluateVariablesTask(Task):
    name = "evaluateVariables"

    def run(self, ctx: TaskContext) -> TaskResult:
        # Each value sees the variables before it, so they are evaluated here, in order.
        base = scope_for(ctx.execution, ctx.stage)
        values: dict[str, Any] = {}
        for index, item in enumerate(ctx.stage.config.get("variables", [])):
            scope = replace(base, root={**base.root, **values})
            try:
                value = item["value"]
                values[item["key"]] = evaluate_text(value, scope) if isinstance(value, str) else value
            except ExpressionError as exc:
                return TaskResult.terminal(f"variables[{index}] ({item['key']}): {exc}")
        return TaskResult.succeeded(**values)
