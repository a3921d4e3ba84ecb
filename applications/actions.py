"""Every change to an application, whichever page, endpoint, admin or command asks for it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from django.core.exceptions import ValidationError

from applications.models import Application
from spinweb.actions import create_audited, delete_audited, update_audited
from spinweb.permissions import Access, group_ids, is_admin

if TYPE_CHECKING:
    from spinweb.permissions import AnyUser

LEVELS = tuple(level.value for level in Access)


def create_application(
    actor: AnyUser | None,
    *,
    name: str,
    owner_email: str,
    description: str = "",
    grants: dict[str, list[Any]] | None = None,
    source: str,
) -> Application:
    application = Application(
        name=name,
        owner_email=owner_email,
        description=description,
        created_by=cast(Any, actor) if actor is not None and actor.is_authenticated else None,
    )
    return create_audited(actor, application, source=source, grants=grants or {})


def update_application(
    actor: AnyUser | None,
    application: Application,
    *,
    changes: dict[str, Any],
    grants: dict[str, list[Any]] | None = None,
    source: str,
) -> Application:
    """Change owner, description or permissions. The name is fixed once created, as in Spinnaker."""
    allowed = {key: value for key, value in changes.items() if key in {"owner_email", "description"}}
    if grants is not None and actor is not None and not is_admin(actor):
        writers = {group.pk for group in grants.get(Access.WRITE.value, [])}
        if not writers & group_ids(actor):
            raise ValidationError(
                {
                    "permissions.WRITE": (
                        f"This change would take WRITE on {application.name} away from you; "
                        "keep one of your groups there, or ask an administrator."
                    )
                }
            )
    return update_audited(actor, application, allowed, source=source, grants=grants)


def delete_application(actor: AnyUser | None, application: Application, *, source: str) -> None:
    delete_audited(actor, application, source=source)
