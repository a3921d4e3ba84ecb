"""Template context every page gets from the policy engine."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def fail_open(request: HttpRequest) -> dict[str, list[str]]:
    """The hooks whose gate lets everything through when the engine fails: the base template shouts them."""
    return {"policy_fail_open": list(getattr(settings, "SPINWEB_POLICY_FAIL_OPEN", []))}
