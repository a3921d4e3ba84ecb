"""Webhook calls and git pushes: which triggers they fire, started and recorded via ``fire``.

A candidate whose trigger has a secret is checked against the request first; until the caller
proves it knows the secret it learns nothing about that pipeline (its verdict is ``hidden``
from the answer, though recorded like any other).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipelines.models import TriggerEvent
from pipelines.triggers import patterns
from pipelines.triggers.fire import (
    Candidate,
    Outcome,
    Report,
    Verdict,
    base_document,
    bounded,
    candidates,
    record_event,
    standard_skip,
    summarize,
    weigh,
)
from pipelines.triggers.git import Push, authentication_problem, signature_problem
from pipelines.triggers.matching import mismatch


def receive_webhook(
    source: str, payload: dict[str, Any], body: bytes, headers: Mapping[str, str], remote: str | None
) -> Report:
    """Fire every enabled webhook trigger with ``source`` whose constraints the payload meets."""
    found = candidates("webhook", source)
    event = record_event(TriggerEvent.Kind.WEBHOOK, source, payload, "", remote)
    parameters = payload.get("parameters")

    def judge(candidate: Candidate) -> Verdict | None:
        secret = candidate.trigger.get("secret")
        if secret:
            problem = signature_problem(str(secret), body, headers.get("X-Hub-Signature-256"))
            if problem:
                return Verdict(candidate, Outcome.SKIPPED, problem, hidden=True)
        skip = standard_skip(candidate)
        if skip is not None:
            return skip
        constraints = candidate.trigger.get("payloadConstraints") or {}
        reason = mismatch(constraints, payload) if isinstance(constraints, dict) else None
        if reason is not None:
            return Verdict(candidate, Outcome.SKIPPED, reason)
        if parameters is not None and not isinstance(parameters, dict):
            return Verdict(candidate, Outcome.REFUSED, "The payload's parameters must be an object of names to values.")
        return None

    def start(candidate: Candidate) -> tuple[dict[str, Any], dict[str, Any]]:
        document = base_document(candidate, "webhook", source=source, payload=payload, eventId=str(event.pk))
        return document, dict(parameters or {})

    report = weigh(event, found, judge, start)
    summarize(report, f"No webhook trigger has source {source!r}.")
    return report


def receive_push(
    push: Push, payload: dict[str, Any], body: bytes, headers: Mapping[str, str], remote: str | None
) -> Report:
    """Fire every enabled git trigger that follows the pushed repository and branch."""
    found = [c for c in candidates("git", push.provider) if _same_repository(c.trigger, push)]
    event = record_event(TriggerEvent.Kind.GIT, f"{push.provider} {push.repository}", payload, "", remote)

    def judge(candidate: Candidate) -> Verdict | None:
        secret = candidate.trigger.get("secret")
        if secret:
            problem = authentication_problem(push.provider, str(secret), body, headers)
            if problem:
                return Verdict(candidate, Outcome.SKIPPED, problem, hidden=True)
        skip = standard_skip(candidate)
        if skip is not None:
            return skip
        reason = _branch_problem(candidate.trigger, push)
        return None if reason is None else Verdict(candidate, Outcome.SKIPPED, reason)

    def start(candidate: Candidate) -> tuple[dict[str, Any], dict[str, Any]]:
        trigger = candidate.trigger
        document = base_document(
            candidate,
            "git",
            source=push.provider,
            project=trigger.get("project"),
            slug=trigger.get("slug"),
            branch=push.branch,
            hash=push.hash,
            payload=bounded(payload),
            eventId=str(event.pk),
        )
        return document, {}

    report = weigh(event, found, judge, start)
    summarize(report, f"No git trigger follows {push.provider} {push.repository}.")
    return report


def _same_repository(trigger: Mapping[str, Any], push: Push) -> bool:
    project, slug = str(trigger.get("project", "")), str(trigger.get("slug", ""))
    return project.lower() == push.project.lower() and slug.lower() == push.slug.lower()


def _branch_problem(trigger: Mapping[str, Any], push: Push) -> str | None:
    if push.branch is None:
        return f"The push is to {push.ref}, not to a branch."
    if push.deleted:
        return f"The push deleted the branch {push.branch}."
    pattern = trigger.get("branch")
    # The whole branch name must match, as in Spinnaker (Java's matches()).
    if not pattern:
        return None
    try:
        found = patterns.fullmatch(str(pattern), push.branch)
    except patterns.TooSlow as exc:
        return f"branch: {exc}"
    if not found:
        return f"branch {push.branch!r} does not match {pattern!r}."
    return None
