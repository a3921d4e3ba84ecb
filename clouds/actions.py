"""Every change to a cloud account, whichever page, endpoint, admin or command asks for it.

Clusters, server groups and load balancers change through provider operations (later
issues); here they change only through the admin, which audits through ``spinweb.actions``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from clouds.models import Account
from spinweb.actions import create_audited, delete_audited, update_audited
from spinweb.permissions import Access

if TYPE_CHECKING:
    from spinweb.permissions import AnyUser

ACCOUNT_LEVELS = (Access.READ.value, Access.WRITE.value)
ACCOUNT_FIELDS = {"provider", "regions", "environment", "credentials_kind", "credentials_ref", "description"}


def create_account(
    actor: AnyUser | None, *, fields: dict[str, Any], grants: dict[str, list[Any]] | None = None, source: str
) -> Account:
    account = Account(name=fields.get("name", ""), **{k: v for k, v in fields.items() if k in ACCOUNT_FIELDS})
    return create_audited(actor, account, source=source, grants=grants or {})


def update_account(
    actor: AnyUser | None,
    account: Account,
    *,
    changes: dict[str, Any],
    grants: dict[str, list[Any]] | None = None,
    source: str,
) -> Account:
    """Change an account; its name is fixed once created because pipelines refer to it."""
    allowed = {key: value for key, value in changes.items() if key in ACCOUNT_FIELDS}
    return update_audited(actor, account, allowed, source=source, grants=grants)


def delete_account(actor: AnyUser | None, account: Account, *, source: str) -> None:
    delete_audited(actor, account, source=source)
