"""Every change to a cloud account, whichever page, endpoint, admin or command asks for it.

Clusters, server groups and load balancers change through provider operations, run by the cluster
stages. A one-off operation on a server group (resize, enable, disable, rollback, destroy) is an
orchestration of one such stage, so it runs, retries and shows like any pipeline's stage.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied, ValidationError

from clouds.models import Account, ServerGroup
from pipelines.actions import start_orchestration
from spinweb.actions import Conflict, create_audited, delete_audited, update_audited
from spinweb.permissions import Access, require

if TYPE_CHECKING:
    from pipelines.models import Execution
    from spinweb.permissions import AnyUser

ACCOUNT_LEVELS = (Access.READ.value, Access.WRITE.value)
ACCOUNT_FIELDS = {
    "provider",
    "regions",
    "environment",
    "credentials_kind",
    "credentials_ref",
    "description",
    "artifacts",
}
# One-off operations on a server group: the stage type each runs, and the verb its name starts with.
OPERATIONS: Final = {
    "resize": ("resizeServerGroup", "Resize"),
    "enable": ("enableServerGroup", "Enable"),
    "disable": ("disableServerGroup", "Disable"),
    "rollback": ("rollbackServerGroup", "Rollback"),
    "destroy": ("destroyServerGroup", "Destroy"),
}
CAPACITY_KEYS: Final = ("min", "max", "desired")


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


# One-off server group operations ------------------------------------------------------------


def run_server_group_operation(
    actor: AnyUser | None, server_group: ServerGroup, operation: str, *, source: str, **fields: Any
) -> Execution:
    """Start an orchestration of one cluster stage on ``server_group`` (Spinnaker's "Tasks").

    Needs EXECUTE on the application and WRITE on the account. ``resize`` takes ``capacity``
    ({min, max, desired}); ``destroy`` takes ``confirm``, which must be the server group's name;
    ``rollback`` restores the server group created before this one in its cluster and region.
    """
    if operation not in OPERATIONS:
        raise ValidationError({"operation": f"Unknown operation {operation!r}; use {', '.join(OPERATIONS)}."})
    _require_operator(actor, server_group)
    if not server_group.is_active:
        raise Conflict(f"{server_group.name} was destroyed; there is nothing left to {operation}.")
    stage = _operation_stage(server_group, operation, fields)
    application = server_group.cluster.application
    return start_orchestration(actor, application, name=stage["name"], stages=[stage], source=source)


def _require_operator(actor: AnyUser | None, server_group: ServerGroup) -> None:
    """404 if the application is unseen; 403 without EXECUTE on it or WRITE on the account."""
    user: AnyUser = actor if actor is not None else AnonymousUser()
    require(server_group.cluster.application.levels_for(user), "execute", "server group")
    account = server_group.cluster.account
    if Access.WRITE.value not in account.levels_for(user):
        raise PermissionDenied(f"You need WRITE permission on account {account.name} to change its server groups.")


def _operation_stage(group: ServerGroup, operation: str, fields: dict[str, Any]) -> dict[str, Any]:
    """The stage JSON, as a pipeline would carry it, for one operation on ``group``."""
    stage_type, verb = OPERATIONS[operation]
    account = group.cluster.account
    stage: dict[str, Any] = {
        "refId": "1",
        "type": stage_type,
        "name": f"{verb} {group.name}",
        "cloudProvider": account.provider,
        "credentials": account.name,
        "regions": [group.region],
        "cluster": group.cluster.name,
    }
    if operation == "rollback":
        restore = _previous(group)
        stage["name"] = f"Rollback {group.name} to {restore.name}"
        context = {"rollbackServerGroupName": group.name, "restoreServerGroupName": restore.name}
        return {**stage, "rollbackType": "EXPLICIT", "rollbackContext": context}
    stage["serverGroupName"] = group.name
    if operation == "resize":
        stage.update(action="scale_exact", capacity=_capacity(fields.get("capacity")))
    elif operation == "destroy" and fields.get("confirm") != group.name:
        raise ValidationError({"confirm": f"Type the server group's name, {group.name}, to confirm the destroy."})
    return stage


def _capacity(value: Any) -> dict[str, int]:
    """``{min, max, desired}`` as whole numbers with min <= desired <= max; errors name each key."""
    if not isinstance(value, dict):
        raise ValidationError({"capacity": "Give the capacity as an object with min, max and desired."})
    errors: dict[str, str] = {}
    for key in CAPACITY_KEYS:
        number = value.get(key)
        if isinstance(number, str) and number.strip().isdigit():
            number = int(number)
        if not isinstance(number, int) or isinstance(number, bool) or number < 0:
            errors[f"capacity.{key}"] = f"capacity.{key} must be a whole number of instances, 0 or more."
        else:
            value = {**value, key: number}
    if errors:
        raise ValidationError(errors)
    if not value["min"] <= value["desired"] <= value["max"]:
        raise ValidationError({"capacity": "Capacity must satisfy min <= desired <= max."})
    return {key: value[key] for key in CAPACITY_KEYS}


def _previous(group: ServerGroup) -> ServerGroup:
    """The server group created just before ``group`` in its cluster and region, still there."""
    siblings = ServerGroup.objects.active().filter(cluster=group.cluster_id, region=group.region)
    previous: ServerGroup | None = (
        siblings.filter(created_at__lt=group.created_at).order_by("-created_at", "-pk").first()
    )
    if previous is None:
        raise Conflict(f"{group.name} has no older server group in {group.region} to roll back to.")
    return previous
