"""Bump the policy-set generation whenever something a policy reads changes.

Policies, reference data and cloud accounts (``data.spinweb.accounts``) are covered by signal,
so a change made anywhere (actions, the admin, a shell) reaches every process's next decision.
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save


def changed(sender: Any, **kwargs: Any) -> None:
    if kwargs.get("raw"):  # loaddata: the fixture's own rows, no reaction
        return
    from policies.actions import bump_generation

    bump_generation()


def connect() -> None:
    from clouds.models import Account
    from policies.models import Policy, ReferenceData

    for model in (Policy, ReferenceData, Account):
        label = model._meta.label_lower
        post_save.connect(changed, sender=model, dispatch_uid=f"policies.generation.save.{label}")
        post_delete.connect(changed, sender=model, dispatch_uid=f"policies.generation.delete.{label}")
