"""The one function every policy hook goes through: :func:`decide` (and :func:`require`)."""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from policies.engines import Engine, EngineError, PolicySet, current_engine, current_policy_set
from policies.engines.base import CompiledPolicy
from policies.hooks import Hook, packages_for
from policies.models import DecisionResult, PolicyDecision, PolicyInput, PolicyMode
from policies.types import Decision, PolicyDenied, Violation

Document = dict[str, Any] | Callable[[], dict[str, Any]]

logger = logging.getLogger(__name__)


def decide(
    hook: Hook,
    package: str,
    document: Document,
    *,
    application: str = "",
    execution_id: uuid.UUID | str | None = None,
    stage_id: uuid.UUID | str | None = None,
    subject: str = "",
    dry_run: bool = False,
) -> Decision:
    """Evaluate every enabled policy covering ``package`` on ``document`` and log the decision.

    No covering policy: allowed, nothing evaluated, nothing logged (the document is not built).
    Writes one :class:`PolicyDecision` otherwise; call it outside any transaction a denial rolls
    back, or the log row vanishes with it.
    """
    hook = Hook(hook)
    policy_set = current_policy_set()
    covering = policy_set.covering(packages_for(hook, package))
    if not covering:
        return Decision(hook=hook, package=package, allowed=True, result=DecisionResult.ALLOW, evaluated=0)
    doc = document() if callable(document) else document
    engine = current_engine()
    started = time.perf_counter()
    decision = evaluate(engine, policy_set, covering, hook, package, doc)
    duration_ms = (time.perf_counter() - started) * 1000
    decision.record_id = log(
        decision,
        doc,
        engine=engine.name,
        duration_ms=duration_ms,
        application=application,
        execution_id=execution_id,
        stage_id=stage_id,
        subject=subject,
        dry_run=dry_run,
    )
    return decision


def require(hook: Hook, package: str, document: Document, **context: Any) -> Decision:
    """:func:`decide` (same keyword arguments), raising :class:`PolicyDenied` when the decision is a denial."""
    decision = decide(hook, package, document, **context)
    if not decision.allowed:
        raise PolicyDenied(decision)
    return decision


def evaluate(
    engine: Engine,
    policy_set: PolicySet,
    covering: list[CompiledPolicy],
    hook: Hook,
    package: str,
    document: dict[str, Any],
) -> Decision:
    """The decision of ``covering`` policies (no logging): what :func:`decide` and dry runs share."""
    violations: list[Violation] = []
    errors: list[str] = []
    enforce_denied = False
    for policy in covering:
        try:
            answer = engine.evaluate(policy_set, policy, hook, document)
        except Exception as exc:  # any failure of the engine is a failure to decide: fail closed
            if not isinstance(exc, EngineError):
                logger.exception("Policy engine %s failed on policy %s", engine.name, policy.name)
            if policy.mode == PolicyMode.ENFORCE:
                errors.append(str(exc) or type(exc).__name__)
            else:
                violations.append(Violation(policy.name, PolicyMode.WARN, f"could not be evaluated: {exc}"))
            continue
        violations.extend(Violation(policy.name, policy.mode, message) for message in answer.messages)
        enforce_denied = enforce_denied or (policy.mode == PolicyMode.ENFORCE and not answer.allowed)
    return _combine(hook, package, violations, errors, enforce_denied, len(covering))


def _combine(
    hook: Hook, package: str, violations: list[Violation], errors: list[str], denied: bool, evaluated: int
) -> Decision:
    error = ""
    if errors:
        causes = " ".join(dict.fromkeys(_sentence(e) for e in errors))  # an unreachable server, once
        error = f"Policy gate {hook.value} ({package}) could not decide: {causes}"
    fails_open = hook.value in getattr(settings, "SPINWEB_POLICY_FAIL_OPEN", [])
    allowed = not denied and (not errors or fails_open)
    if errors:
        result = DecisionResult.ERROR
    elif denied:
        result = DecisionResult.DENY
    else:
        result = DecisionResult.WARN if violations else DecisionResult.ALLOW
    message = ""
    if hook == Hook.AUTHZ:
        message = " ".join(v.message for v in violations if v.mode == PolicyMode.ENFORCE) or error
    return Decision(
        hook=hook,
        package=package,
        allowed=allowed,
        result=result,
        violations=violations,
        error=error,
        message=message,
        evaluated=evaluated,
    )


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else text + "."


def digest(document: dict[str, Any]) -> tuple[str, str]:
    """(sha256 hex, canonical JSON) of an input document; what is not JSON is stored as text or null."""
    try:
        canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), allow_nan=False, default=str)
    except ValueError:  # NaN or infinity somewhere: stored as null, as the decision saw no JSON
        loose = json.loads(json.dumps(document, default=str), parse_constant=lambda _: None)
        canonical = json.dumps(loose, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest(), canonical


def store_input(document: dict[str, Any]) -> PolicyInput:
    key, canonical = digest(document)
    try:
        with transaction.atomic():
            stored, _ = PolicyInput.objects.get_or_create(digest=key, defaults={"document": json.loads(canonical)})
    except IntegrityError:  # another process stored the same document at the same moment
        stored = PolicyInput.objects.get(digest=key)
    return stored


def log(
    decision: Decision,
    document: dict[str, Any],
    *,
    engine: str,
    duration_ms: float,
    application: str = "",
    execution_id: uuid.UUID | str | None = None,
    stage_id: uuid.UUID | str | None = None,
    subject: str = "",
    dry_run: bool = False,
) -> int:
    """Write the decision log row (and its stored input); returns the row id."""
    user = document.get("user") if isinstance(document.get("user"), dict) else {}
    row = PolicyDecision.objects.create(
        hook=decision.hook.value,
        package=decision.package[:255],
        input=store_input(document),
        allowed=decision.allowed,
        result=decision.result,
        messages=[{"policy": v.policy, "mode": v.mode, "message": v.message} for v in decision.violations],
        error=decision.error,
        engine=engine,
        duration_ms=round(duration_ms, 3),
        username=str((user or {}).get("username", ""))[:150],
        application=application[:100],
        execution_id=_uuid(execution_id),
        stage_id=_uuid(stage_id),
        subject=subject[:255],
        dry_run=dry_run,
        failed_open=decision.allowed and decision.result == DecisionResult.ERROR,
    )
    return row.pk


def _uuid(value: uuid.UUID | str | None) -> uuid.UUID | None:
    if value is None or value == "":
        return None
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        return None
