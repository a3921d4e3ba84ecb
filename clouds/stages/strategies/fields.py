"""The strategy fields of a cluster deployment: one set of rules, checked at save and read at run time.

At save time a value written as ``${…}`` is skipped (it is known only when the stage runs); the
``determineSourceServerGroup`` task reads the evaluated values with :func:`options`, which refuses
the first bad one, so the plans that follow may trust what they read.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from clouds.stages.checks import is_expression
from clouds.stages.common import Refused, number_field
from pipelines.models import is_uuid

REDBLACK, ROLLING, HIGHLANDER = "redblack", "rollingredblack", "highlander"
# The strategies that replace a group: they pin a source group and may roll back to it.
SWITCHING = frozenset({REDBLACK, ROLLING, HIGHLANDER})
DEFAULT_PERCENTAGES = (50, 100)
DEFAULT_MAX_REMAINING = 2
JUDGMENT_FIELD = "manualJudgmentBeforeCleanup"
JUDGMENT_KEYS = ("instructions", "judgmentInputs", "selectedStageRoles")

Issues = list[tuple[str, str]]


@dataclass(frozen=True)
class Validation:
    """``pipelineBeforeCleanup``: a pipeline run (and waited for) before each cleanup."""

    pipeline_id: str
    application: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Options:
    """A cluster entry's strategy fields, with Spinnaker's (Deck's) defaults."""

    strategy: str = ""
    healthy_percent: float = 100
    max_remaining: int = DEFAULT_MAX_REMAINING
    delay_before_disable: int = 0
    scale_down: bool = False
    delay_before_scale_down: int = 0
    rollback_on_failure: bool = False
    destroy_latest: bool = False
    percentages: tuple[int, ...] = DEFAULT_PERCENTAGES
    delay_before_cleanup: int = 0
    validation: Validation | None = None
    # The manualJudgment fields of the judgment before each cleanup; None: no judgment.
    judgment: dict[str, Any] | None = None

    @property
    def rolls_back(self) -> bool:
        """Whether a failure brings the source back: always for rolling, on request for the others."""
        return self.strategy == ROLLING or (self.strategy in SWITCHING and self.rollback_on_failure)


# Save-time and run-time checks -------------------------------------------------------------


def issues(entry: Mapping[str, Any], at: str = "") -> Issues:
    """Problems with the strategy fields of one cluster entry, as ``[(field path, sentence)]``."""
    found = _seconds(entry, "delayBeforeDisableSec", at) + _seconds(entry, "delayBeforeScaleDownSec", at)
    found += _seconds(entry, "delayBeforeCleanup", at) + _flag(entry, "scaleDown", at)
    found += _rollback_issues(entry.get("rollback"), at + "rollback")
    found += _percentage_issues(entry.get("targetPercentages"), at + "targetPercentages")
    found += _validation_issues(entry.get("pipelineBeforeCleanup"), at + "pipelineBeforeCleanup")
    return found + _judgment_issues(entry.get(JUDGMENT_FIELD), at + JUDGMENT_FIELD)


def _seconds(entry: Mapping[str, Any], key: str, at: str) -> Issues:
    value = entry.get(key)
    if value is None or is_expression(value) or _whole(value) is not None:
        return []
    return [(at + key, f"{key} must be a whole number of seconds (0 or more).")]


def _whole(value: Any) -> int | None:
    """A whole number of 0 or more, also written as digits (Deck writes some as text)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _flag(entry: Mapping[str, Any], key: str, at: str) -> Issues:
    value = entry.get(key)
    if value is None or is_expression(value) or isinstance(value, bool):
        return []
    return [(at + key, f"{key} must be true or false.")]


def _rollback_issues(value: Any, at: str) -> Issues:
    if value is None or is_expression(value):
        return []
    if not isinstance(value, dict):
        return [(at, 'rollback must be an object such as {"onFailure": true}.')]
    return _flag(value, "onFailure", at + ".") + _flag(value, "destroyLatest", at + ".")


def _percentage_issues(value: Any, at: str) -> Issues:
    if value is None or is_expression(value):
        return []
    if not isinstance(value, list) or not value:
        return [(at, "targetPercentages must be a non-empty list of percentages such as [50, 100].")]
    numbers = [item if isinstance(item, int) and not isinstance(item, bool) else None for item in value]
    if any(number is None or not 0 < number <= 100 for number in numbers):
        return [(at, "Each of targetPercentages must be a whole number from 1 to 100.")]
    if any(later <= earlier for earlier, later in itertools.pairwise(value)):
        return [(at, "targetPercentages must go up, each larger than the one before (such as [25, 50, 100]).")]
    return []


def _validation_issues(value: Any, at: str) -> Issues:
    if value is None or is_expression(value):
        return []
    if not isinstance(value, dict):
        return [(at, 'pipelineBeforeCleanup must be an object such as {"pipelineId": "…"}.')]
    found: Issues = []
    pipeline = value.get("pipelineId")
    if not is_expression(pipeline) and not is_uuid(pipeline):
        found.append((f"{at}.pipelineId", "pipelineBeforeCleanup.pipelineId must be a pipeline id (a UUID)."))
    application = value.get("application")
    if application is not None and (not isinstance(application, str) or not application.strip()):
        found.append((f"{at}.application", "pipelineBeforeCleanup.application must be an application name."))
    parameters = value.get("pipelineParameters")
    if parameters is not None and not is_expression(parameters) and not isinstance(parameters, dict):
        found.append((f"{at}.pipelineParameters", "pipelineBeforeCleanup.pipelineParameters must be an object."))
    return found


def _judgment_issues(value: Any, at: str) -> Issues:
    if value is None or is_expression(value) or isinstance(value, bool):
        return []
    if not isinstance(value, dict):
        return [(at, f'{JUDGMENT_FIELD} must be true, false or an object such as {{"instructions": "…"}}.')]
    unknown = sorted(set(value) - set(JUDGMENT_KEYS))
    if unknown:
        return [(f"{at}.{unknown[0]}", f"{JUDGMENT_FIELD} takes only {', '.join(JUDGMENT_KEYS)}.")]
    return []


# Reading at run time -----------------------------------------------------------------------


def strategy_of(context: Mapping[str, Any]) -> str:
    value = context.get("strategy") or ""
    return "" if value == "none" else str(value)


def options(context: Mapping[str, Any]) -> Options:
    """The evaluated strategy fields; ``Refused`` naming the first bad one."""
    strategy = strategy_of(context)
    if strategy and strategy not in SWITCHING:
        allowed = ", ".join(repr(name) for name in ("", "none", *sorted(SWITCHING)))
        raise Refused(f"strategy must be one of {allowed}, not {strategy!r}.")
    found = issues(context) + _run_time_issues(context)
    if found:
        path, sentence = found[0]
        raise Refused(sentence if path in sentence else f"{path}: {sentence}")
    rollback = context.get("rollback") or {}
    return Options(
        strategy=strategy,
        healthy_percent=number_field(context, "targetHealthyDeployPercentage", 100),
        max_remaining=_whole(context.get("maxRemainingAsgs")) or DEFAULT_MAX_REMAINING,
        delay_before_disable=_whole(context.get("delayBeforeDisableSec", 0)) or 0,
        scale_down=bool(context.get("scaleDown", False)),
        delay_before_scale_down=_whole(context.get("delayBeforeScaleDownSec", 0)) or 0,
        rollback_on_failure=bool(rollback.get("onFailure", False)),
        destroy_latest=bool(rollback.get("destroyLatest", False)),
        percentages=_percentages(context.get("targetPercentages")),
        delay_before_cleanup=_whole(context.get("delayBeforeCleanup", 0)) or 0,
        validation=_validation(context.get("pipelineBeforeCleanup")),
        judgment=_judgment(context.get(JUDGMENT_FIELD)),
    )


def _run_time_issues(context: Mapping[str, Any]) -> Issues:
    """What a save-time check lets through as an expression and must be a plain value by now."""
    found: Issues = []
    for key in ("targetPercentages", "rollback", "pipelineBeforeCleanup", JUDGMENT_FIELD, "scaleDown"):
        if is_expression(context.get(key)):
            found.append((key, f"{key} must not be text; it evaluated to {context[key]!r}."))
    remaining = context.get("maxRemainingAsgs")
    if remaining is not None and not _whole(remaining):
        found.append(("maxRemainingAsgs", f"maxRemainingAsgs must be a whole number of at least 1, not {remaining!r}."))
    return found


def _percentages(value: Any) -> tuple[int, ...]:
    steps = tuple(value) if isinstance(value, list) and value else DEFAULT_PERCENTAGES
    return steps if steps[-1] == 100 else (*steps, 100)


def _validation(value: Any) -> Validation | None:
    if not isinstance(value, dict):
        return None
    return Validation(
        pipeline_id=str(value["pipelineId"]),
        application=value.get("application"),
        parameters=dict(value.get("pipelineParameters") or {}),
    )


def _judgment(value: Any) -> dict[str, Any] | None:
    if value is True:
        return {}
    if isinstance(value, dict):
        return {key: value[key] for key in JUDGMENT_KEYS if key in value}
    return None
