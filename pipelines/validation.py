"""Save-time validation of Spinnaker pipeline JSON, and its normal form.

The document is the one Front50 stores and Deck shows under "Edit as JSON": ``application``,
``name``, ``stages[]`` joined into a graph by ``refId`` / ``requisiteStageRefIds``,
``parameterConfig[]``, ``triggers[]``, ``notifications[]`` and the concurrency flags. Unknown keys
are allowed everywhere, as in Front50, so stage bodies stay free-form.

``validate_pipeline`` reports every problem at once, each at the JSON path of the value at fault,
so an editor can mark all of them together. Wrong types never raise: a check reports "must be a
list" and moves on. Stage types and expressions are not known here; the caller passes the stage
type registry's checks and the expression syntax check. Plain Python with no Django imports.
"""

import copy
import difflib
import heapq
import json
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeAlias, TypeGuard

from pipelines.graph import MAX_CYCLES_REPORTED, cycles
from pipelines.triggers.checks import check_trigger

__all__ = [
    "MAX_CYCLES_REPORTED",
    "MAX_DOCUMENT_BYTES",
    "MAX_NAME_LENGTH",
    "MAX_STAGES",
    "PARAMETER_NAME_RE",
    "ExpressionCheck",
    "Issue",
    "StageCheck",
    "normalize_pipeline",
    "stage_order",
    "validate_pipeline",
]

MAX_DOCUMENT_BYTES: Final = 1_000_000
"""Largest pipeline accepted, as compact UTF-8 JSON ("1 MB", decimal)."""

MAX_STAGES: Final = 500
"""Most stages one pipeline may hold."""

MAX_NAME_LENGTH: Final = 255
"""Longest pipeline name."""

PARAMETER_NAME_RE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
"""A parameter name, matched in full (``fullmatch``, so a trailing newline is not let through)."""

PIPELINE_DEFAULTS: Final[Mapping[str, object]] = {
    "limitConcurrent": True,
    "keepWaitingPipelines": False,
    "maxConcurrentExecutions": 0,
    "disabled": False,
    "description": "",
}
LIST_FIELDS: Final = ("stages", "triggers", "parameterConfig", "notifications")
FAILURE_FLAGS: Final = (
    "failPipeline",
    "continuePipeline",
    "completeOtherBranchesThenFail",
    "failOnFailedExpressions",
    "restrictExecutionDuringTimeWindow",
)
WINDOW_FIELDS: Final = (("startHour", 23), ("startMin", 59), ("endHour", 23), ("endMin", 59))
_IDENTIFIER_RE: Final = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")


@dataclass(frozen=True)
class Issue:
    """One problem in a pipeline document, at the JSON path of the value at fault."""

    path: str
    """JSON path such as ``stages[2].requisiteStageRefIds[0]``; ``""`` for the whole document."""
    message: str
    """A sentence."""

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


StageCheck: TypeAlias = Callable[[Mapping[str, Any]], list[tuple[str, str]]]
"""A stage type's own check: stage -> [(field path relative to the stage, message)]."""

ExpressionCheck: TypeAlias = Callable[[str], list[tuple[int | None, str]]]
"""Syntax check of a string holding ``${...}``: [(position in the string or None, reason)]."""


class _Issues(list[Issue]):
    def add(self, path: str, message: str) -> None:
        self.append(Issue(path, message))


# Public API


def validate_pipeline(
    doc: Any, *, stage_checks: Mapping[str, StageCheck], check_expression: ExpressionCheck
) -> list[Issue]:
    """Every problem in ``doc`` (parsed JSON), in document order; empty when it can be saved.

    ``stage_checks`` maps each known stage type to its own check; ``check_expression`` checks the
    syntax of strings holding ``${...}``. Whether ``application`` exists is the caller's check.
    """
    issues = _Issues()
    if not isinstance(doc, dict):
        issues.add("", "The pipeline must be a JSON object.")
        return issues
    if not _check_size(doc, issues):
        return issues
    _check_document(doc, issues)
    _check_stages(doc, stage_checks, check_expression, issues)
    _check_parameters(doc, issues)
    _check_triggers(doc, issues)
    _objects(doc, "notifications", "", "Each notification must be an object.", issues)
    _check_concurrency(doc, issues)
    return list(issues)


def normalize_pipeline(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of ``doc`` with Spinnaker's defaults filled in and refIds written as strings.

    ``locked`` is left as given (absent means unlocked); unknown keys are kept.
    """
    result: dict[str, Any] = copy.deepcopy(dict(doc))
    for key, value in PIPELINE_DEFAULTS.items():
        result.setdefault(key, value)
    for key in LIST_FIELDS:
        result.setdefault(key, [])
    if isinstance(result["stages"], list):
        for stage in result["stages"]:
            if isinstance(stage, dict):
                _normalize_stage(stage)
    return result


def stage_order(stages: Sequence[Mapping[str, Any]]) -> list[str]:
    """The refIds (as strings) in an order where every stage follows its requisites.

    Among stages free to go next, the one earlier in ``stages`` goes first. Raises ``ValueError``
    on a cycle, and on a graph that validation rejects (a missing or repeated refId, a requisite
    no stage has), whose order would mean nothing; the message is that validation issue.
    """
    problems = _Issues()
    owners = _owners(stages, problems)
    for i, stage in enumerate(stages):
        if isinstance(stage, Mapping):
            _check_requisites(stage, f"stages[{i}]", owners, problems)
    if problems:
        raise ValueError(str(problems[0]))
    succ = _flow_graph(stages, owners)
    indegree = [0] * len(stages)
    for targets in succ:
        for target in targets:
            indegree[target] += 1
    ready = [i for i, count in enumerate(indegree) if count == 0]
    order: list[int] = []
    while ready:
        node = heapq.heappop(ready)
        order.append(node)
        for target in succ[node]:
            indegree[target] -= 1
            if indegree[target] == 0:
                heapq.heappush(ready, target)
    refs = {position: ref for ref, position in owners.items()}
    if len(order) < len(stages):
        raise ValueError(_cycle_message(cycles(succ)[0], refs))
    return [refs[i] for i in order]


# The document


def _check_size(doc: dict[str, Any], issues: _Issues) -> bool:
    try:
        size = len(json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode())
    except (TypeError, ValueError, RecursionError):
        issues.add("", "The pipeline must hold only JSON values (objects, lists, strings, numbers, booleans, null).")
        return False
    if size > MAX_DOCUMENT_BYTES:
        megabytes = size / 1_000_000
        # Two decimals, rounded up, just over the limit: "1.0 MB; the limit is 1 MB" would puzzle.
        shown = f"{megabytes:.1f}" if megabytes >= 1.05 else f"{math.ceil(megabytes * 100) / 100:.2f}"
        issues.add("", f"The pipeline is {shown} MB; the limit is {MAX_DOCUMENT_BYTES / 1_000_000:g} MB.")
        return False
    return True


def _check_document(doc: dict[str, Any], issues: _Issues) -> None:
    _require_text(doc, "application", "", issues)
    if _require_text(doc, "name", "", issues):
        name: str = doc["name"]
        if len(name) > MAX_NAME_LENGTH:
            issues.add("name", f"name is {len(name)} characters long; the limit is {MAX_NAME_LENGTH}.")
        if name != name.strip():
            issues.add("name", "name must not start or end with whitespace.")
    _check_type(doc, "id", str, "a string", "", issues)
    _check_type(doc, "description", str, "a string", "", issues)


def _check_concurrency(doc: dict[str, Any], issues: _Issues) -> None:
    for key in ("limitConcurrent", "keepWaitingPipelines", "disabled"):
        _check_type(doc, key, bool, "true or false", "", issues)
    if "maxConcurrentExecutions" not in doc:
        return
    maximum = doc["maxConcurrentExecutions"]
    if not _is_int(maximum) or maximum < 0:
        issues.add("maxConcurrentExecutions", "maxConcurrentExecutions must be a whole number, 0 or more.")
    elif maximum > 0 and doc.get("limitConcurrent", PIPELINE_DEFAULTS["limitConcurrent"]) is True:
        # limitConcurrent is true when absent (Deck's default), so the cap would be ignored then too.
        issues.add("maxConcurrentExecutions", "maxConcurrentExecutions applies only when limitConcurrent is false.")


def _check_parameters(doc: dict[str, Any], issues: _Issues) -> None:
    seen: dict[str, int] = {}
    for i, param in _objects(doc, "parameterConfig", "", "Each parameter must be an object.", issues):
        path = f"parameterConfig[{i}]"
        _check_parameter_name(param, path, i, seen, issues)
        for key in ("required", "hasOptions", "pinned"):
            _check_type(param, key, bool, "true or false", path, issues)
        for key in ("label", "description"):
            _check_type(param, key, str, "a string", path, issues)
        values = _option_values(param, path, issues)
        default = param.get("default")
        if param.get("hasOptions") is True and default not in (None, "") and default not in values:
            issues.add(f"{path}.default", f"default {_quote(default)} is not one of the options.")


def _check_parameter_name(
    param: dict[str, Any], path: str, position: int, seen: dict[str, int], issues: _Issues
) -> None:
    if not _require_text(param, "name", path, issues):
        return
    name: str = param["name"]
    if not PARAMETER_NAME_RE.fullmatch(name):
        issues.add(
            f"{path}.name",
            f"name '{name}' must start with a letter or '_' and hold only letters, digits, '_', '.' and '-'.",
        )
    if name in seen:
        issues.add(f"{path}.name", f"name '{name}' is already used by parameterConfig[{seen[name]}].")
    else:
        seen[name] = position


def _option_values(param: dict[str, Any], path: str, issues: _Issues) -> list[str]:
    values: list[str] = []
    for k, option in _objects(param, "options", path, 'Each option must be an object like {"value": "…"}.', issues):
        value = option.get("value")
        if isinstance(value, str):
            values.append(value)
        else:
            issues.add(f"{path}.options[{k}].value", "value must be a string.")
    return values


def _check_triggers(doc: dict[str, Any], issues: _Issues) -> None:
    for i, trigger in _objects(doc, "triggers", "", "Each trigger must be an object.", issues):
        if _require_text(trigger, "type", f"triggers[{i}]", issues):
            for relative, message in check_trigger(trigger):
                issues.add(_join(f"triggers[{i}]", relative), message)


# Stages


def _check_stages(
    doc: dict[str, Any], stage_checks: Mapping[str, StageCheck], check_expression: ExpressionCheck, issues: _Issues
) -> None:
    if "stages" not in doc:
        return
    stages = doc["stages"]
    if not isinstance(stages, list):
        issues.add("stages", "stages must be a list.")
        return
    if len(stages) > MAX_STAGES:
        issues.add("stages", f"The pipeline has {len(stages)} stages; the limit is {MAX_STAGES}.")
    owners = _owners(stages, issues)
    for i, stage in enumerate(stages):
        if isinstance(stage, dict):
            _check_stage(stage, f"stages[{i}]", owners, stage_checks, check_expression, issues)
    _check_cycles(stages, owners, issues)


def _owners(stages: Sequence[Any], issues: _Issues) -> dict[str, int]:
    """Each refId (as a string) -> position of the first stage that has it; reports bad refIds."""
    owners: dict[str, int] = {}
    for i, stage in enumerate(stages):
        if not isinstance(stage, Mapping):
            issues.add(f"stages[{i}]", "Each stage must be an object.")
            continue
        path = f"stages[{i}].refId"
        if "refId" not in stage:
            issues.add(path, "refId is required.")
        elif (ref := _ref_key(stage["refId"])) is None:
            issues.add(path, "refId must be a non-empty string or an integer.")
        elif ref in owners:
            issues.add(path, f"refId '{ref}' is already used by stages[{owners[ref]}].")
        else:
            owners[ref] = i
    return owners


def _check_stage(
    stage: dict[str, Any],
    path: str,
    owners: Mapping[str, int],
    stage_checks: Mapping[str, StageCheck],
    check_expression: ExpressionCheck,
    issues: _Issues,
) -> None:
    _check_type(stage, "name", str, "a string", path, issues)
    _check_requisites(stage, path, owners, issues)
    _check_failure_options(stage, path, issues)
    _check_stage_enabled(stage, path, check_expression, issues)
    _check_execution_window(stage, path, issues)
    _check_stage_type(stage, path, stage_checks, issues)
    _check_stage_expressions(stage, path, check_expression, issues)


def _check_requisites(stage: Mapping[str, Any], path: str, owners: Mapping[str, int], issues: _Issues) -> None:
    requisites = _list(stage, "requisiteStageRefIds", path, issues)
    own = _ref_key(stage.get("refId"))
    for k, requisite in enumerate(requisites):
        at = f"{path}.requisiteStageRefIds[{k}]"
        ref = _ref_key(requisite)
        if ref is None:
            issues.add(at, "Each requisite must be a refId (a non-empty string or an integer).")
        elif ref == own:
            issues.add(at, f"Stage {ref} cannot depend on itself.")
        elif ref not in owners:
            issues.add(at, f"No stage has refId '{ref}'.")


def _check_failure_options(stage: dict[str, Any], path: str, issues: _Issues) -> None:
    for key in FAILURE_FLAGS:
        _check_type(stage, key, bool, "true or false", path, issues)
    if stage.get("continuePipeline") is True and stage.get("completeOtherBranchesThenFail") is True:
        issues.add(
            f"{path}.completeOtherBranchesThenFail",
            "completeOtherBranchesThenFail cannot be true together with continuePipeline: "
            "a failure cannot be both ignored and fail the pipeline.",
        )
    timeout = stage.get("stageTimeoutMs")
    if "stageTimeoutMs" in stage and not (_is_int(timeout) and timeout > 0):
        issues.add(f"{path}.stageTimeoutMs", "stageTimeoutMs must be a positive whole number of milliseconds.")


def _check_stage_enabled(stage: dict[str, Any], path: str, check_expression: ExpressionCheck, issues: _Issues) -> None:
    if "stageEnabled" not in stage:
        return
    condition = stage["stageEnabled"]
    at = f"{path}.stageEnabled"
    if not isinstance(condition, dict):
        issues.add(at, 'stageEnabled must be an object like {"type": "expression", "expression": "…"}.')
        return
    if condition.get("type") != "expression":
        issues.add(f"{at}.type", "stageEnabled type must be 'expression'.")
    if not _require_text(condition, "expression", at, issues):
        return
    expression: str = condition["expression"]
    # Orca evaluates "${" + expression + "}" unless it is already written as ${...}.
    wrapped = not expression.lstrip().startswith("${")
    text = "${" + expression + "}" if wrapped else expression
    for position, reason in check_expression(text):
        if position is not None and wrapped:
            position = min(max(position - 2, 0), len(expression))
        issues.add(f"{at}.expression", _bad_expression(reason, position))


def _check_execution_window(stage: dict[str, Any], path: str, issues: _Issues) -> None:
    if stage.get("restrictExecutionDuringTimeWindow") is not True:
        return
    at = f"{path}.restrictedExecutionWindow"
    window = stage.get("restrictedExecutionWindow")
    if "restrictedExecutionWindow" not in stage:
        issues.add(at, "restrictedExecutionWindow is required when restrictExecutionDuringTimeWindow is true.")
        return
    if not isinstance(window, dict):
        issues.add(at, "restrictedExecutionWindow must be an object.")
        return
    if window.get("whitelist", []) == []:
        issues.add(f"{at}.whitelist", "whitelist must hold at least one time range.")
    ranges = _objects(window, "whitelist", at, "Each time range must be an object.", issues)
    for k, time_range in ranges:
        for key, highest in WINDOW_FIELDS:
            value = time_range.get(key)
            if not (_is_int(value) and 0 <= value <= highest):
                issues.add(f"{at}.whitelist[{k}].{key}", f"{key} must be a whole number from 0 to {highest}.")
    for k, day in enumerate(_list(window, "days", at, issues)):
        if not (_is_int(day) and 1 <= day <= 7):
            issues.add(f"{at}.days[{k}]", "Each day must be a whole number from 1 (Sunday) to 7 (Saturday).")


def _check_stage_type(
    stage: dict[str, Any], path: str, stage_checks: Mapping[str, StageCheck], issues: _Issues
) -> None:
    if not _require_text(stage, "type", path, issues):
        return
    stage_type: str = stage["type"]
    check = stage_checks.get(stage_type)
    if check is None:
        issues.add(f"{path}.type", _unknown_type(stage_type, stage_checks))
        return
    for relative, message in check(stage):
        issues.add(_join(path, relative), message)


def _unknown_type(stage_type: str, known: Mapping[str, StageCheck]) -> str:
    by_lower = {name.lower(): name for name in known}
    close = difflib.get_close_matches(stage_type.lower(), list(by_lower), n=1)
    hint = f" The closest known type is '{by_lower[close[0]]}'." if close else ""
    return f"Unknown stage type '{stage_type}'.{hint}"


def _check_stage_expressions(
    stage: dict[str, Any], path: str, check_expression: ExpressionCheck, issues: _Issues
) -> None:
    checked_apart = f"{path}.stageEnabled.expression"
    for at, text in _strings(stage, path):
        if "${" in text and at != checked_apart:
            for position, reason in check_expression(text):
                issues.add(at, _bad_expression(reason, position))


def _bad_expression(reason: str, position: int | None) -> str:
    where = "" if position is None else f" (at position {position})"
    return f"Bad expression: {reason.rstrip('.')}{where}."


def _strings(value: object, path: str) -> Iterator[tuple[str, str]]:
    """Every string inside ``value`` with its JSON path, in document order.

    A loop rather than recursion: a deeply nested stage must not exhaust the call stack.
    """
    pending: list[tuple[str, object]] = [(path, value)]
    while pending:
        at, item = pending.pop()
        if isinstance(item, str):
            yield at, item
        elif isinstance(item, dict):
            pending.extend((_key_path(at, key), child) for key, child in reversed(item.items()))
        elif isinstance(item, list):
            pending.extend((f"{at}[{k}]", child) for k, child in reversed(list(enumerate(item))))


# The stage graph


def _check_cycles(stages: list[Any], owners: Mapping[str, int], issues: _Issues) -> None:
    refs = {position: ref for ref, position in owners.items()}
    for cycle in cycles(_flow_graph(stages, owners)):
        first, last = stages[cycle[0]], refs[cycle[-1]]
        # Point at the requisite of the cycle's first stage that closes the loop.
        k = next(k for k, requisite in enumerate(first["requisiteStageRefIds"]) if _ref_key(requisite) == last)
        issues.add(f"stages[{cycle[0]}].requisiteStageRefIds[{k}]", _cycle_message(cycle, refs))


def _flow_graph(stages: Sequence[Any], owners: Mapping[str, int]) -> list[list[int]]:
    """Edges requisite -> dependent between stage positions (the direction the pipeline runs).

    Only the stage that owns a refId takes part; bad requisites and self-requisites are left
    out, having been reported on their own.
    """
    succ: list[set[int]] = [set() for _ in stages]
    for i, stage in enumerate(stages):
        if not isinstance(stage, Mapping) or _owner_of(stage.get("refId"), owners) != i:
            continue
        requisites = stage.get("requisiteStageRefIds")
        for requisite in requisites if isinstance(requisites, list) else []:
            source = _owner_of(requisite, owners)
            if source is not None and source != i:
                succ[source].add(i)
    return [sorted(targets) for targets in succ]


def _cycle_message(cycle: Sequence[int], refs: Mapping[int, str]) -> str:
    names = [refs[i] for i in [*cycle, cycle[0]]]
    return f"Stages {' → '.join(names)} form a cycle."


# Normal form


def _normalize_stage(stage: dict[str, Any]) -> None:
    if "refId" in stage:
        stage["refId"] = _ref_text(stage["refId"])
    requisites = stage.setdefault("requisiteStageRefIds", [])
    if isinstance(requisites, list):
        stage["requisiteStageRefIds"] = [_ref_text(requisite) for requisite in requisites]


def _ref_text(value: object) -> object:
    """An integer refId as a string; anything else as given."""
    return str(value) if _is_int(value) else value


# Small helpers


def _ref_key(value: object) -> str | None:
    """A refId as Spinnaker compares it (integers as their decimal string), or None if it is not one."""
    if _is_int(value):
        return str(value)
    if isinstance(value, str) and value:
        return value
    return None


def _owner_of(value: object, owners: Mapping[str, int]) -> int | None:
    ref = _ref_key(value)
    return None if ref is None else owners.get(ref)


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _quote(value: object) -> str:
    return f"'{value}'" if isinstance(value, str) else json.dumps(value, default=str)


def _key_path(base: str, key: object) -> str:
    if isinstance(key, str) and _IDENTIFIER_RE.fullmatch(key):
        return f"{base}.{key}" if base else key
    return f"{base}[{json.dumps(str(key))}]"


def _join(base: str, relative: str) -> str:
    if not relative:
        return base
    return f"{base}{relative}" if relative.startswith("[") else f"{base}.{relative}"


def _check_type(obj: Mapping[str, Any], key: str, expected: type, description: str, path: str, issues: _Issues) -> None:
    if key in obj and not isinstance(obj[key], expected):
        issues.add(_key_path(path, key), f"{key} must be {description}.")


def _require_text(obj: Mapping[str, Any], key: str, path: str, issues: _Issues) -> bool:
    """Report ``key`` unless it is a non-empty string; tell whether it is one."""
    at = _key_path(path, key)
    value = obj.get(key)
    if key not in obj:
        issues.add(at, f"{key} is required.")
    elif not isinstance(value, str):
        issues.add(at, f"{key} must be a string.")
    elif not value.strip():
        issues.add(at, f"{key} must not be empty.")
    else:
        return True
    return False


def _list(obj: Mapping[str, Any], key: str, path: str, issues: _Issues) -> list[Any]:
    """``obj[key]`` when it is a list; [] when absent or, after reporting it, when not a list."""
    value = obj.get(key, [])
    if isinstance(value, list):
        return value
    issues.add(_key_path(path, key), f"{key} must be a list.")
    return []


def _objects(
    obj: Mapping[str, Any], key: str, path: str, item_message: str, issues: _Issues
) -> list[tuple[int, dict[str, Any]]]:
    """The objects in the list ``obj[key]`` with their positions; reports items that are not objects."""
    found: list[tuple[int, dict[str, Any]]] = []
    for k, item in enumerate(_list(obj, key, path, issues)):
        if isinstance(item, dict):
            found.append((k, item))
        else:
            issues.add(f"{_key_path(path, key)}[{k}]", item_message)
    return found
