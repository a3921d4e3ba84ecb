"""The starter library: ready-made policies shipped disabled, each a ``<name>.rego`` with a
``<name>.json`` holding ``{"description", "tests": [cases]}``.

:func:`install_missing` (run after every ``migrate``) creates each one that no policy was
installed from yet, disabled; an administrator reads it, adds the reference data it names and
enables it. A starter policy edited since is never overwritten; one deleted comes back, disabled,
at the next ``migrate``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spinweb.models import AuditSource

logger = logging.getLogger(__name__)
LIBRARY = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Starter:
    name: str
    source: str
    description: str
    tests: list[dict[str, Any]]


def starters() -> list[Starter]:
    """Every policy of the library, by name."""
    found = []
    for rego in sorted(LIBRARY.glob("*.rego")):
        spec = json.loads(rego.with_suffix(".json").read_text(encoding="utf-8"))
        found.append(Starter(rego.stem, rego.read_text(encoding="utf-8"), spec["description"], spec["tests"]))
    return found


def install_missing() -> list[str]:
    """Create, disabled, each starter policy no policy was installed from; returns their names.

    Idempotent: a starter is skipped while any policy records it (``Policy.starter``), whatever
    was changed in it since. A name already taken by another policy gets a ``-starter`` suffix.
    One that cannot be saved (its cases fail on this installation's data) is logged and skipped.
    """
    from policies.actions import PolicyInvalid, save_policy
    from policies.models import Policy

    installed = set(Policy.objects.exclude(starter="").values_list("starter", flat=True))
    taken = set(Policy.objects.values_list("name", flat=True))
    created = []
    for starter in starters():
        if starter.name in installed:
            continue
        name = starter.name if starter.name not in taken else f"{starter.name}-starter"
        try:
            save_policy(
                None,
                name=name,
                source=starter.source,
                description=starter.description,
                enabled=False,
                tests=starter.tests,
                starter=starter.name,
                source_label=AuditSource.SYSTEM,
                detail="Installed from the starter library, disabled.",
            )
        except PolicyInvalid as exc:
            logger.warning("Starter policy %s was not installed: %s", starter.name, "; ".join(m for _, m in exc.issues))
            continue
        created.append(name)
    return created
