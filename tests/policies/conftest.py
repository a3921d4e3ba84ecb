"""Shared fixtures for every policy test (core, hooks, pages, CLI, remote)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from policies import engines
from policies.actions import save_policy
from policies.models import Policy
from spinweb.models import AuditSource

_names = itertools.count(1)

MakePolicy = Callable[..., Policy]


def deny_source(package: str, message: str, condition: str = "true") -> str:
    """A v1 policy in ``package`` that denies with ``message`` when ``condition`` holds."""
    quoted = message.replace("\\", "\\\\").replace('"', '\\"')
    return f'package {package}\n\nimport rego.v1\n\ndeny contains "{quoted}" if {{\n\t{condition}\n}}\n'


@pytest.fixture(autouse=True)
def _fresh_policy_caches() -> Iterator[None]:
    """Each test starts and ends without this process's policy snapshot or engine.

    Test transactions roll back, so a generation number can repeat with other content.
    """
    engines.reset()
    yield
    engines.reset()


@pytest.fixture
def make_policy(db: None) -> MakePolicy:
    """``make_policy(source, *, name=None, mode="enforce", enabled=True, tests=None, description="")``
    saves a policy through :func:`policies.actions.save_policy` (checked, tested, versioned)."""

    def make(
        source: str,
        *,
        name: str | None = None,
        mode: str = "enforce",
        enabled: bool = True,
        tests: list[dict[str, Any]] | None = None,
        description: str = "",
    ) -> Policy:
        return save_policy(
            None,
            name=name or f"policy-{next(_names)}",
            source=source,
            description=description,
            mode=mode,
            enabled=enabled,
            tests=tests,
            source_label=AuditSource.SYSTEM,
        )

    return make


@pytest.fixture
def enable(db: None) -> Callable[..., Policy]:
    """``enable(policy, enabled=True, mode=None)``: save the policy again switched on (or off)."""

    def switch(policy: Policy, enabled: bool = True, mode: str | None = None) -> Policy:
        return save_policy(
            None,
            name=policy.name,
            source=policy.source,
            description=policy.description,
            mode=mode or policy.mode,
            enabled=enabled,
            tests=policy.tests,
            policy=policy,
            source_label=AuditSource.SYSTEM,
        )

    return switch
