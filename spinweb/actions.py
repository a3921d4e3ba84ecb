"""Audited create, update and delete shared by every app's ``actions.py``.

Each function runs in one transaction: the change, its permission grants and its audit
event land together or not at all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from django.core.exceptions import ValidationError
from django.db import models, transaction

from spinweb.audit import record, snapshot
from spinweb.models import AuditAction

if TYPE_CHECKING:
    from spinweb.permissions import AnyUser

M = TypeVar("M", bound=models.Model)


class Conflict(ValidationError):
    """A request that the object's current state does not allow (answered 409)."""


class InUse(Conflict):
    """A delete refused because other things still depend on the row."""


def set_grants(instance: models.Model, grants: dict[str, list[Any]]) -> None:
    """Replace the row's group grants with ``{level: [Group, ...]}``."""
    relation: Any = getattr(instance, "grants")  # noqa: B009 (not every Model has it)
    grant_model = relation.model
    owner_field = relation.field.name
    relation.all().delete()
    grant_model.objects.bulk_create(
        grant_model(**{owner_field: instance}, group=group, level=level)
        for level, groups in grants.items()
        for group in groups
    )


@transaction.atomic
def create_audited(actor: AnyUser | None, instance: M, *, source: str, grants: dict[str, list[Any]] | None = None) -> M:
    instance.full_clean()
    instance.save()
    if grants is not None:
        set_grants(instance, grants)
    record(actor, AuditAction.CREATE, instance, source=source, after=snapshot(instance))
    return instance


@transaction.atomic
def update_audited(
    actor: AnyUser | None,
    instance: M,
    changes: dict[str, Any],
    *,
    source: str,
    grants: dict[str, list[Any]] | None = None,
) -> M:
    before = snapshot(instance)
    for field, value in changes.items():
        setattr(instance, field, value)
    instance.full_clean()
    instance.save()
    if grants is not None:
        set_grants(instance, grants)
    after = snapshot(instance)
    if after != before:
        record(actor, AuditAction.UPDATE, instance, source=source, before=before, after=after)
    return instance


def deletion_blockers(instance: models.Model) -> list[str]:
    blockers = getattr(instance, "deletion_blockers", None)
    return list(blockers()) if blockers else []


@transaction.atomic
def delete_audited(actor: AnyUser | None, instance: models.Model, *, source: str) -> None:
    blockers = deletion_blockers(instance)
    if blockers:
        raise InUse(f"{instance} cannot be deleted: {'; '.join(blockers)}.")
    record(actor, AuditAction.DELETE, instance, source=source, before=snapshot(instance))
    instance.delete()
