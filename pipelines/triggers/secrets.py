"""Trigger secrets (``secret`` of webhook and git triggers): never shown, kept across edits.

Every document that leaves Spinweb (API, pages, CLI, audit log, version diffs, admin) carries
``MASK`` in place of a secret. An editor that sends the document back unchanged sends the mask;
``keep_secrets`` then puts the stored secret back, so a round trip never erases it. Plain Python.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Final

MASK: Final = "**********"


def _triggers(config: Mapping[str, Any]) -> list[Any]:
    triggers = config.get("triggers")
    return triggers if isinstance(triggers, list) else []


def mask_secrets(config: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of the pipeline config with every trigger secret replaced by ``MASK``."""
    masked = dict(config)
    triggers = _triggers(config)
    if any(isinstance(t, dict) and t.get("secret") for t in triggers):
        masked["triggers"] = [
            {**t, "secret": MASK} if isinstance(t, dict) and t.get("secret") else copy.deepcopy(t) for t in triggers
        ]
    return masked


def keep_secrets(new_config: Mapping[str, Any], old_config: Mapping[str, Any]) -> dict[str, Any]:
    """``new_config`` where each trigger sent with ``MASK`` gets the stored secret of the same trigger.

    The same trigger is the old one with the same ``id`` when the new one has an id, else the one
    at the same position with the same type. A mask with no such trigger is left for
    ``masked_paths`` to report.
    """
    old = _triggers(old_config)
    by_id = {t["id"]: t for t in old if isinstance(t, dict) and isinstance(t.get("id"), str) and t["id"]}
    result = dict(new_config)
    result["triggers"] = [_restored(t, i, old, by_id) for i, t in enumerate(_triggers(new_config))]
    if "triggers" not in new_config:
        del result["triggers"]
    return result


def _restored(trigger: Any, index: int, old: list[Any], by_id: Mapping[str, Any]) -> Any:
    if not isinstance(trigger, dict) or trigger.get("secret") != MASK:
        return trigger
    same: Any = None
    if isinstance(trigger.get("id"), str) and trigger["id"]:
        same = by_id.get(trigger["id"])
    elif index < len(old) and isinstance(old[index], dict) and old[index].get("type") == trigger.get("type"):
        same = old[index]
    if same is None or not same.get("secret"):
        return trigger
    return {**trigger, "secret": same["secret"]}


def masked_paths(config: Mapping[str, Any]) -> list[str]:
    """JSON paths of secrets that are still the mask (nothing stored to keep)."""
    return [
        f"triggers[{i}].secret"
        for i, t in enumerate(_triggers(config))
        if isinstance(t, dict) and t.get("secret") == MASK
    ]
