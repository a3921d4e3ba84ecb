"""Helpers for the hook tests: enable a real Rego policy the way an administrator saves one."""

from __future__ import annotations

from django.contrib.auth.models import User

from policies.actions import save_policy
from policies.models import DecisionResult, Policy, PolicyDecision
from spinweb.models import AuditSource


def enable(name: str, source: str, *, mode: str = "enforce") -> Policy:
    """Save and enable ``source`` as policy ``name``, as the admin would on the policy page."""
    admin = User.objects.filter(is_superuser=True).first()
    return save_policy(admin, name=name, source=source, mode=mode, enabled=True, source_label=AuditSource.API)


def denials_logged(hook: str) -> list[PolicyDecision]:
    return list(PolicyDecision.objects.filter(hook=hook, result=DecisionResult.DENY))
