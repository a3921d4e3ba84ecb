"""Writing the audit log. Every action in ``*/actions.py`` calls :func:`record`."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, cast

from django.contrib.auth.models import AbstractUser, Group, Permission
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from spinweb.models import AuditEvent

if TYPE_CHECKING:
    from spinweb.permissions import AnyUser


def snapshot(instance: models.Model) -> dict[str, Any]:
    """A JSON-safe picture of a row as the audit log keeps it (never a password or token)."""
    if hasattr(instance, "audit_snapshot"):
        data = instance.audit_snapshot()
    elif isinstance(instance, Group):
        data = {"name": instance.name, "permissions": _codenames(instance.permissions.all())}
    elif isinstance(instance, AbstractUser):
        data = {
            "username": instance.username,
            "email": instance.email,
            "is_active": instance.is_active,
            "is_staff": instance.is_staff,
            "is_superuser": instance.is_superuser,
            "groups": sorted(instance.groups.values_list("name", flat=True)),
            "permissions": _codenames(instance.user_permissions.all()),
        }
    else:
        data = {}
    return dict(json.loads(json.dumps(data, cls=DjangoJSONEncoder)))


def _codenames(permissions: models.QuerySet[Permission]) -> list[str]:
    return sorted(f"{app}.{code}" for app, code in permissions.values_list("content_type__app_label", "codename"))


def application_of(instance: models.Model) -> str:
    for path in ("application", "cluster__application"):
        target: Any = instance
        for part in path.split("__"):
            target = getattr(target, part, None)
        if target is not None:
            return str(target.name)
    if instance._meta.label_lower == "applications.application":
        return str(getattr(instance, "name", ""))
    return ""


def record(
    actor: AnyUser | None,
    action: str,
    instance: models.Model,
    *,
    source: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    detail: str = "",
) -> AuditEvent:
    """Write one audit event. Call it inside the same transaction as the change."""
    user = actor if actor is not None and actor.is_authenticated else None
    return AuditEvent.objects.create(
        actor=cast(Any, user),
        actor_name=user.get_username() if user is not None else "system",
        source=source,
        action=action,
        object_type=instance._meta.label_lower,
        object_id=str(instance.pk),
        object_repr=str(instance)[:255],
        application=application_of(instance),
        before=before,
        after=after,
        detail=detail,
    )
