"""Save-time checks of one trigger, per type: plain Python, called by ``pipelines.validation``.

Each check returns ``[(path relative to the trigger, sentence)]``. Trigger types Spinweb does
not fire (jenkins, docker, pubsub …) are stored as Spinnaker wrote them and not checked further.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any, Final

from pipelines.triggers import patterns
from pipelines.triggers.cron import CronError, parse, time_zone
from pipelines.triggers.matching import constraint_problem

Problems = list[tuple[str, str]]

GIT_PROVIDERS: Final = ("github", "gitlab")
COMPLETION_STATUSES: Final = ("successful", "failed", "canceled")
SOURCE_RE: Final = re.compile(r"[^/\s]{1,128}")
COMMON_FIELDS: Final = (("enabled", bool, "true or false"), ("id", str, "a string"), ("runAsUser", str, "a string"))
_IDENTIFIER_RE: Final = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")


def check_trigger(trigger: Mapping[str, Any]) -> Problems:
    """Every problem of one trigger object (its ``type`` is checked by the caller)."""
    problems: Problems = []
    for key, kind, description in COMMON_FIELDS:
        if key in trigger and not isinstance(trigger[key], kind):
            problems.append((key, f"{key} must be {description}."))
    check = CHECKS.get(str(trigger.get("type")))
    if check is not None:
        problems.extend(check(trigger))
    return problems


def _cron(trigger: Mapping[str, Any]) -> Problems:
    problems: Problems = []
    expression = trigger.get("cronExpression")
    if not isinstance(expression, str) or not expression.strip():
        problems.append(("cronExpression", "cronExpression is required, such as '0 0 10 ? * MON-FRI'."))
    else:
        problems.extend(_cron_error(lambda: parse(expression)))
    if trigger.get("timeZone") not in (None, ""):
        problems.extend(_cron_error(lambda: time_zone(trigger["timeZone"])))
    return problems


def _cron_error(attempt: Callable[[], object]) -> Problems:
    try:
        attempt()
    except CronError as exc:
        return [(exc.field, exc.message)]
    return []


def _webhook(trigger: Mapping[str, Any]) -> Problems:
    problems = _source(trigger)
    problems.extend(_secret(trigger))
    constraints = trigger.get("payloadConstraints", {})
    if constraints is None:
        return problems
    if not isinstance(constraints, dict):
        return [*problems, ("payloadConstraints", 'payloadConstraints must be an object like {"branch": "^main$"}.')]
    for key, pattern in constraints.items():
        problem = constraint_problem(key, pattern)
        if problem is not None:
            problems.append((f"payloadConstraints{_key(str(key))}", problem))
    return problems


def _source(trigger: Mapping[str, Any]) -> Problems:
    source = trigger.get("source")
    if not isinstance(source, str) or not source:
        return [("source", "source is required: the last part of the webhook URL /api/v1/webhooks/<source>.")]
    if not SOURCE_RE.fullmatch(source):
        return [("source", f"source {source!r} must be at most 128 characters, without '/' or spaces: it ends a URL.")]
    return []


def _secret(trigger: Mapping[str, Any]) -> Problems:
    if "secret" in trigger and trigger["secret"] is not None and not isinstance(trigger["secret"], str):
        return [("secret", "secret must be a string.")]
    return []


def _git(trigger: Mapping[str, Any]) -> Problems:
    problems: Problems = []
    if trigger.get("source") not in GIT_PROVIDERS:
        given = json.dumps(trigger.get("source"))
        problems.append(
            ("source", f"source must be github or gitlab, the providers Spinweb takes pushes from, not {given}.")
        )
    for key in ("project", "slug"):
        if not isinstance(trigger.get(key), str) or not trigger[key].strip():
            problems.append((key, f"{key} is required: the repository is project/slug, such as acme/shop."))
    branch = trigger.get("branch")
    if branch not in (None, ""):
        problems.extend(_regex("branch", branch))
    problems.extend(_secret(trigger))
    return problems


def _regex(key: str, pattern: Any) -> Problems:
    if not isinstance(pattern, str):
        return [(key, f"{key} must be a regular expression, as a string.")]
    reason = patterns.problem(pattern)
    return [] if reason is None else [(key, f"{key} {pattern!r} is not a valid regular expression: {reason}.")]


def _completion(trigger: Mapping[str, Any]) -> Problems:
    problems: Problems = []
    for key, what in (("application", "the application of the pipeline to follow"), ("pipeline", "its pipeline id")):
        if not isinstance(trigger.get(key), str) or not trigger[key].strip():
            problems.append((key, f"{key} is required: {what}."))
    statuses = trigger.get("status")
    allowed = ", ".join(COMPLETION_STATUSES)
    if not isinstance(statuses, list) or not statuses:
        problems.append(("status", f"status must list at least one of {allowed}."))
        return problems
    for k, value in enumerate(statuses):
        if value not in COMPLETION_STATUSES:
            problems.append((f"status[{k}]", f"status {json.dumps(value)} is not one of {allowed}."))
    return problems


def _key(key: str) -> str:
    return f".{key}" if _IDENTIFIER_RE.fullmatch(key) else f"[{json.dumps(key)}]"


CHECKS: Final[Mapping[str, Callable[[Mapping[str, Any]], Problems]]] = {
    "cron": _cron,
    "webhook": _webhook,
    "git": _git,
    "pipeline": _completion,
}
