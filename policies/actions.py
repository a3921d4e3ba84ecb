"""Every change to policies and reference data, whichever page, API call or command asks for it.

Each change is one transaction: checked first (source, tests), then written with its version and
audit event. The policy-set generation is bumped by :mod:`policies.signals` on every saved or
deleted policy, reference document and cloud account, so every process reloads.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F

from policies import engines, rego
from policies.hooks import hook_of
from policies.models import Policy, PolicyMode, PolicySetState, PolicyVersion, ReferenceData
from policies.testing import case_issues, run_cases
from spinweb.audit import record
from spinweb.models import AuditAction

if TYPE_CHECKING:
    from spinweb.permissions import AnyUser

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


class PolicyInvalid(ValidationError):
    """A policy or reference document with problems; ``issues`` are (field path, sentence)."""

    def __init__(self, issues: list[tuple[str, str]]) -> None:
        self.issues = issues
        by_field: dict[str, list[str]] = {}
        for path, message in issues:
            by_field.setdefault(path or "policy", []).append(message)
        super().__init__(by_field)


def bump_generation() -> None:
    """Mark the policy set changed: every process reloads before its next decision.

    Runs inside the caller's transaction, so other processes see the new generation when (and
    only if) the change commits; this process forgets its snapshot at once.
    """
    if not PolicySetState.objects.filter(pk=1).update(generation=F("generation") + 1):
        try:
            with transaction.atomic():
                PolicySetState.objects.create(pk=1, generation=1)
        except IntegrityError:  # created by another process meanwhile
            PolicySetState.objects.filter(pk=1).update(generation=F("generation") + 1)
    engines.forget()


# Policies -----------------------------------------------------------------------------------


def policy_issues(
    *, name: str, source: str, mode: str, tests: Any, policy: Policy | None = None
) -> list[tuple[str, str]]:
    """Every problem of a policy about to be saved, its failing test cases included."""
    issues = _field_issues(name, mode, policy)
    problems = rego.check_source(source)
    issues.extend((_source_field(p), str(p)) for p in problems)
    shape = case_issues(tests)
    issues.extend(shape)
    if not problems and not shape and tests:
        hook = hook_of(rego.package_of(source))
        assert hook is not None  # check_source refuses a package no hook evaluates
        results = run_cases(source, hook, tests, engines.data_document(), name=name or "under test")
        issues.extend(
            (f"tests[{i}]", f"Test case {r.name!r} failed: {r.detail}") for i, r in enumerate(results) if not r.passed
        )
    return issues


def _field_issues(name: str, mode: str, policy: Policy | None) -> list[tuple[str, str]]:
    issues: list[tuple[str, str]] = []
    if not name.strip():
        issues.append(("name", "A policy needs a name."))
    elif len(name) > 100:
        issues.append(("name", "A policy name has at most 100 characters."))
    elif Policy.objects.filter(name=name).exclude(pk=policy.pk if policy else 0).exists():
        issues.append(("name", f"Another policy is already named {name!r}."))
    if mode not in PolicyMode.values:
        issues.append(("mode", f"The mode must be enforce or warn, not {mode!r}."))
    return issues


def _source_field(problem: rego.RegoProblem) -> str:
    return "source" if problem.line is None else f"source:{problem.line}:{problem.column}"


def save_policy(
    actor: AnyUser | None,
    *,
    name: str,
    source: str,
    description: str = "",
    mode: str = "enforce",
    enabled: bool = False,
    tests: list[dict[str, Any]] | None = None,
    policy: Policy | None = None,
    starter: str = "",
    source_label: str,
    detail: str = "",
) -> Policy:
    """Create or update a policy: checked, its test cases run, then saved with a new version."""
    name = name.strip()
    source = source.replace("\r\n", "\n")  # browsers post CRLF; line/column answers count LF lines
    tests = [] if tests is None else tests
    issues = policy_issues(name=name, source=source, mode=mode, tests=tests, policy=policy)
    if issues:
        raise PolicyInvalid(issues)
    fields = {
        "name": name,
        "source": source,
        "description": description,
        "mode": mode,
        "enabled": enabled,
        "tests": tests,
        "package": rego.package_of(source),
    }
    try:
        with transaction.atomic():
            return _write_policy(actor, policy, fields, starter, source_label, detail)
    except IntegrityError:
        raise PolicyInvalid([("name", f"Another policy is already named {name!r}.")]) from None


def _write_policy(
    actor: AnyUser | None,
    policy: Policy | None,
    fields: dict[str, Any],
    starter: str,
    source_label: str,
    detail: str,
) -> Policy:
    user: Any = actor if actor is not None and actor.is_authenticated else None
    if policy is None:
        saved = Policy.objects.create(**fields, starter=starter, updated_by=user)
        record(actor, AuditAction.CREATE, saved, source=source_label, after=policy_state(saved), detail=detail)
    else:
        saved = Policy.objects.select_for_update().get(pk=policy.pk)
        before = policy_state(saved)
        for key, value in fields.items():
            setattr(saved, key, value)
        saved.version, saved.updated_by = saved.version + 1, user
        saved.save()
        record(
            actor,
            AuditAction.UPDATE,
            saved,
            source=source_label,
            before=before,
            after=policy_state(saved),
            detail=detail,
        )
    PolicyVersion.objects.create(
        policy=saved,
        version=saved.version,
        **{key: fields[key] for key in ("name", "description", "source", "mode", "enabled", "tests")},
        saved_by=user,
    )
    if policy is not None:
        policy.refresh_from_db()
    return saved


def policy_state(policy: Policy) -> dict[str, Any]:
    """What the audit log keeps of a policy."""
    return {
        "name": policy.name,
        "package": policy.package,
        "mode": policy.mode,
        "enabled": policy.enabled,
        "version": policy.version,
        "description": policy.description,
        "source": policy.source,
        "tests": policy.tests,
    }


def delete_policy(actor: AnyUser | None, policy: Policy, *, source_label: str) -> None:
    with transaction.atomic():
        record(actor, AuditAction.DELETE, policy, source=source_label, before=policy_state(policy))
        policy.delete()


def restore_policy_version(actor: AnyUser | None, policy: Policy, version: int, *, source_label: str) -> Policy:
    """Save an earlier version again, as a new version (checked and tested like any save)."""
    old = PolicyVersion.objects.filter(policy=policy, version=version).first()
    if old is None:
        raise PolicyInvalid([("version", f"Policy {policy.name} has no version {version}.")])
    return save_policy(
        actor,
        name=old.name,
        source=old.source,
        description=old.description,
        mode=old.mode,
        enabled=old.enabled,
        tests=list(old.tests or []),
        policy=policy,
        starter=policy.starter,
        source_label=source_label,
        detail=f"Restored version {version}.",
    )


# Reference data -----------------------------------------------------------------------------


def reference_data_issues(key: str, document: Any, item: ReferenceData | None = None) -> list[tuple[str, str]]:
    issues: list[tuple[str, str]] = []
    if not _KEY.match(key):
        issues.append(("key", "The key must be a Rego name: a letter or _, then letters, digits or _ (64 at most)."))
    elif key in rego.RESERVED_DATA_KEYS:
        issues.append(("key", f"The key {key!r} is reserved; pick another name."))
    elif ReferenceData.objects.filter(key=key).exclude(pk=item.pk if item else 0).exists():
        issues.append(("key", f"Reference data {key!r} already exists."))
    try:
        json.dumps(document, allow_nan=False)
    except (TypeError, ValueError):
        issues.append(("document", "The document must be JSON (objects, lists, strings, numbers, true/false, null)."))
    return issues


def save_reference_data(
    actor: AnyUser | None,
    *,
    key: str,
    document: Any,
    description: str = "",
    source_label: str,
    item: ReferenceData | None = None,
) -> ReferenceData:
    """Create (or update, when the key exists or ``item`` is given) a document policies read as data.<key>."""
    key = key.strip()
    existing = item or ReferenceData.objects.filter(key=key).first()
    issues = reference_data_issues(key, document, existing)
    if issues:
        raise PolicyInvalid(issues)
    user: Any = actor if actor is not None and actor.is_authenticated else None
    with transaction.atomic():
        if existing is None:
            saved = ReferenceData.objects.create(key=key, document=document, description=description, updated_by=user)
            record(actor, AuditAction.CREATE, saved, source=source_label, after=_data_state(saved))
            return saved
        saved = ReferenceData.objects.select_for_update().get(pk=existing.pk)
        before = _data_state(saved)
        saved.key, saved.document, saved.description = key, document, description
        saved.version, saved.updated_by = saved.version + 1, user
        saved.save()
        record(actor, AuditAction.UPDATE, saved, source=source_label, before=before, after=_data_state(saved))
        return saved


def _data_state(item: ReferenceData) -> dict[str, Any]:
    return {"key": item.key, "description": item.description, "document": item.document, "version": item.version}


def delete_reference_data(actor: AnyUser | None, item: ReferenceData, *, source_label: str) -> None:
    with transaction.atomic():
        record(actor, AuditAction.DELETE, item, source=source_label, before=_data_state(item))
        item.delete()
