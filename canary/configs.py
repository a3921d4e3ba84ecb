"""Checking a Kayenta canary-config JSON document: every problem at once, each at its JSON path.

The judge (``canary.judge.config``) checks what it reads and stops at the first problem. Here
the same checks run per metric and per section, plus what the judge does not read but a run
needs: each metric's query (a known source type), its scope name and groups, the weights and
templates. Paths are relative to the document (``metrics[2].query.type``), as the editor and
``pipelines.json_positions`` write them.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Iterable
from typing import Any

from canary.judge import judge_names
from canary.judge.config import JudgeInputError, parse_canary_config, parse_metric
from pipelines.validation import Issue

# Until canary.sources exists (it lands beside this module), the source types it will register.
FALLBACK_SOURCE_TYPES = frozenset({"builtin", "prometheus", "cloudwatch"})
DEFAULT_SCOPE_NAME = "default"
MAX_NAME_LENGTH = 255
WEIGHT_TOTAL = 100.0
# Shown and exported, decided by the server: never saved from a document.
SERVER_KEYS = frozenset({"version", "updatedBy", "updatedTimestamp", "updatedTimestampIso", "createdTimestamp"})


def source_types() -> frozenset[str]:
    """The query types a metric may name: ``canary.sources.SOURCE_TYPES``."""
    try:
        module = importlib.import_module("canary.sources")
    except ImportError:
        return FALLBACK_SOURCE_TYPES
    return frozenset(getattr(module, "SOURCE_TYPES", FALLBACK_SOURCE_TYPES))


def without_server_keys(document: Any) -> Any:
    if not isinstance(document, dict):
        return document
    return {key: value for key, value in document.items() if key not in SERVER_KEYS}


def config_issues(document: Any) -> list[Issue]:
    """Every problem of a canary-config document; an empty list when it can be saved and judged."""
    if not isinstance(document, dict):
        return [Issue("", "The canary config must be a JSON object.")]
    issues = _head_issues(document)
    metrics = document.get("metrics")
    if not isinstance(metrics, list) or not metrics:
        issues.append(Issue("metrics", "must be a non-empty list of metrics."))
        metrics = []
    templates = _templates(document, issues)
    for index, metric in enumerate(metrics):
        issues += metric_issues(metric, f"metrics[{index}]", templates)
    issues += _duplicate_names(metrics)
    issues += _judge_issues(document.get("judge"))
    issues += _weight_issues(document.get("classifier"), _groups_of(metrics))
    return issues or _judge_safety_net(document)


def _head_issues(document: dict[str, Any]) -> list[Issue]:
    issues = []
    name = document.get("name")
    if not isinstance(name, str) or not name.strip():
        issues.append(Issue("name", "is required and must be a non-empty string."))
    elif len(name) > MAX_NAME_LENGTH or name != name.strip():
        issues.append(Issue("name", f"must be at most {MAX_NAME_LENGTH} characters, without spaces around it."))
    if not isinstance(document.get("description", ""), str):
        issues.append(Issue("description", "must be a string."))
    applications = document.get("applications")
    if not isinstance(applications, list) or not applications:
        issues.append(Issue("applications", "must list the application the config belongs to first."))
    else:
        issues += [
            Issue(f"applications[{index}]", "must be an application name.")
            for index, value in enumerate(applications)
            if not isinstance(value, str) or not value
        ]
    return issues


def _templates(document: dict[str, Any], issues: list[Issue]) -> dict[str, str]:
    templates = document.get("templates")
    if templates is None:
        return {}
    if not isinstance(templates, dict):
        issues.append(Issue("templates", "must be an object of template names to filter strings."))
        return {}
    bad = [key for key, value in templates.items() if not isinstance(value, str)]
    issues += [Issue(f"templates.{key}", "must be a string.") for key in bad]
    return {key: value for key, value in templates.items() if key not in bad}


def metric_issues(metric: Any, path: str, templates: dict[str, str]) -> list[Issue]:
    """Problems of one ``metrics[]`` entry: what the judge reads, then the query, scope and groups."""
    if not isinstance(metric, dict):
        return [Issue(path, "must be a JSON object.")]
    issues = []
    try:
        parse_metric(metric, path)
    except JudgeInputError as exc:
        issues.append(Issue(exc.path, exc.message))
    scope = metric.get("scopeName")
    if not isinstance(scope, str) or not scope:
        issues.append(
            Issue(
                f"{path}.scopeName", f"is required: the scope the metric is read in (usually {DEFAULT_SCOPE_NAME!r})."
            )
        )
    groups = metric.get("groups")
    if not isinstance(groups, list) or not groups or not all(isinstance(g, str) and g for g in groups):
        issues.append(Issue(f"{path}.groups", "must be a non-empty list of group names."))
    return _unique(issues + _query_issues(metric.get("query"), f"{path}.query", templates))


def _query_issues(query: Any, path: str, templates: dict[str, str]) -> list[Issue]:
    if not isinstance(query, dict):
        return [Issue(path, "is required: an object whose type names the metric source.")]
    known = source_types()
    kind = query.get("type")
    if not isinstance(kind, str) or kind not in known:
        return [Issue(f"{path}.type", f"{kind!r} is not a known metric source; use one of {', '.join(sorted(known))}.")]
    template = query.get("customFilterTemplate")
    if template is not None and (not isinstance(template, str) or template not in templates):
        return [Issue(f"{path}.customFilterTemplate", f"names no entry of templates: {template!r}.")]
    return []


def _duplicate_names(metrics: list[Any]) -> list[Issue]:
    seen: set[str] = set()
    issues = []
    for index, metric in enumerate(metrics):
        name = metric.get("name") if isinstance(metric, dict) else None
        if isinstance(name, str) and name in seen:
            issues.append(Issue(f"metrics[{index}].name", f"duplicates the metric name {name!r}."))
        if isinstance(name, str):
            seen.add(name)
    return issues


def _judge_issues(judge: Any) -> list[Issue]:
    if judge is None:
        return []
    if not isinstance(judge, dict):
        return [Issue("judge", "must be a JSON object.")]
    name = judge.get("name")
    if name is not None and name not in judge_names():
        return [Issue("judge.name", f"{name!r} is not a known judge; use one of {', '.join(judge_names())}.")]
    # The judge's own checks of its settings (confLevel, tolerance), run on this section alone so
    # they are reported even when metrics have problems too.
    try:
        parse_canary_config({"metrics": [{"name": "-"}], "judge": judge}, path="canaryConfig")
    except JudgeInputError as exc:
        return [Issue(_relative(exc.path), exc.message)]
    return []


def _relative(path: str) -> str:
    return path.removeprefix("canaryConfig").lstrip(".")


def _groups_of(metrics: list[Any]) -> set[str]:
    groups = (metric.get("groups") for metric in metrics if isinstance(metric, dict))
    return {group for names in groups if isinstance(names, list) for group in names if isinstance(group, str)}


def _weight_issues(classifier: Any, groups: set[str]) -> list[Issue]:
    if classifier is None:
        return []
    if not isinstance(classifier, dict):
        return [Issue("classifier", "must be a JSON object.")]
    weights = classifier.get("groupWeights")
    if weights is None or weights == {}:
        return []
    if not isinstance(weights, dict):
        return [Issue("classifier.groupWeights", "must be an object of group names to weights.")]
    issues = [
        Issue(f"classifier.groupWeights.{g}", "must be a number from 0 to 100.")
        for g, w in weights.items()
        if not _weight(w)
    ]
    issues += [
        Issue(f"classifier.groupWeights.{g}", "names no group of any metric.") for g in weights if g not in groups
    ]
    issues += [
        Issue("classifier.groupWeights", f"has no weight for the group {g!r}.") for g in sorted(groups - set(weights))
    ]
    total = sum(float(w) for w in weights.values() if _weight(w))
    if not issues and not math.isclose(total, WEIGHT_TOTAL, abs_tol=1e-6):
        issues.append(Issue("classifier.groupWeights", f"must add up to 100; they add up to {total:g}."))
    return issues


def _weight(value: Any) -> bool:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    return number and math.isfinite(value) and 0 <= value <= WEIGHT_TOTAL


def _judge_safety_net(document: dict[str, Any]) -> list[Issue]:
    """What the judge itself refuses (confLevel, tolerance…), so a saved config always judges."""
    try:
        parse_canary_config(document, path="canaryConfig")
    except JudgeInputError as exc:
        return [Issue(_relative(exc.path), exc.message)]
    return []


def _unique(issues: Iterable[Issue]) -> list[Issue]:
    return list(dict.fromkeys(issues))
