"""Every change to a cloud account, whichever page, endpoint, admin or command asks for it.

Clusters, server groups and load balancers change through provider operations, run by the cluster
stages. A one-off operation is an orchestration of such stages (Spinnaker's "Tasks"), so it runs,
retries and shows like any pipeline's stage:

- ``run_server_group_operation``: resize, enable, disable, rollback or destroy one server group;
- ``run_cluster_operation``: deploy a version, disable, scale down, shrink, roll back a cluster, or
  find the image it runs;
- ``run_orchestration``: any cluster stage as JSON (the REST endpoint ``/api/v1/orchestrations/``).

All three build the stage JSON a pipeline would carry and start it through ``_start``, where the
typed confirmation of destructive stages (``destroyServerGroup``, ``shrinkCluster``) is checked.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Final

from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied, ValidationError

from applications.models import Application, get_application_for_user
from clouds import naming
from clouds.models import Account, Cluster, ServerGroup
from clouds.stages.permissions import ACCOUNT_NEEDS
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
# One-off operations on a cluster in one region: the stage type each runs.
CLUSTER_OPERATIONS: Final = {
    "deploy": "deploy",
    "disable": "disableCluster",
    "scale-down": "scaleDownCluster",
    "shrink": "shrinkCluster",
    "rollback": "rollbackCluster",
    "find-image": "findImageFromCluster",
}
# The deploy strategies a one-off deploy offers, with the label the page shows.
STRATEGY_CHOICES: Final = (
    ("", "None: add the new server group, change nothing else"),
    ("redblack", "Blue/green: enable the new group, then disable the old"),
    ("highlander", "Highlander: then destroy every older group"),
    ("rollingredblack", "Rolling blue/green: move traffic in steps"),
)
# What the orchestrations endpoint runs: the cluster stages, whose accounts are checked like a
# pipeline save's. Other stage types (webhooks, pipelines, scripts) belong in a pipeline, which
# takes WRITE on the application to save; EXECUTE alone does not run them ad hoc.
ORCHESTRATION_STAGE_TYPES: Final = frozenset({"deploy", *ACCOUNT_NEEDS})
VERSION_PATTERN: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,63}")


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
    cluster = server_group.cluster
    _require_operator(actor, cluster, ACCOUNT_NEEDS[OPERATIONS[operation][0]])
    if not server_group.is_active:
        raise Conflict(f"{server_group.name} was destroyed; there is nothing left to {operation}.")
    stage = _operation_stage(server_group, operation, fields)
    return _start(actor, cluster.application, [stage], name=stage["name"], confirm=fields.get("confirm"), source=source)


def _require_operator(actor: AnyUser | None, cluster: Cluster, need: Access) -> None:
    """404 if the application is unseen; 403 without EXECUTE on it or ``need`` on the account."""
    user: AnyUser = actor if actor is not None else AnonymousUser()
    require(cluster.application.levels_for(user), "execute", "server group")
    account = cluster.account
    if need.value not in account.levels_for(user):
        verb = "change its server groups" if need == Access.WRITE else "read its server groups"
        raise PermissionDenied(f"You need {need.value} permission on account {account.name} to {verb}.")


def _stage_json(account: Account, cluster: str, region: str, stage_type: str, name: str) -> dict[str, Any]:
    """What every one-off cluster stage starts with, as a pipeline would write it."""
    return {
        "refId": "1",
        "type": stage_type,
        "name": name,
        "cloudProvider": account.provider,
        "credentials": account.name,
        "regions": [region],
        "cluster": cluster,
    }


def _operation_stage(group: ServerGroup, operation: str, fields: dict[str, Any]) -> dict[str, Any]:
    """The stage JSON, as a pipeline would carry it, for one operation on ``group``."""
    stage_type, verb = OPERATIONS[operation]
    stage = _stage_json(group.cluster.account, group.cluster.name, group.region, stage_type, f"{verb} {group.name}")
    if operation == "rollback":
        restore = _previous(group)
        stage["name"] = f"Rollback {group.name} to {restore.name}"
        context = {"rollbackServerGroupName": group.name, "restoreServerGroupName": restore.name}
        return {**stage, "rollbackType": "EXPLICIT", "rollbackContext": context}
    stage["serverGroupName"] = group.name
    if operation == "resize":
        stage.update(action="scale_exact", capacity=_capacity(fields.get("capacity")))
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


# One-off cluster operations -----------------------------------------------------------------


def run_cluster_operation(
    actor: AnyUser | None, cluster: Cluster, operation: str, *, region: str, source: str, **fields: Any
) -> Execution:
    """Start an orchestration of one cluster-wide stage on ``cluster`` in ``region``.

    Needs EXECUTE on the application and WRITE on the account (READ for ``find-image``). Fields:
    ``deploy``: ``artifact`` (one the account declares), ``version``, ``capacity``, ``strategy``;
    ``disable``: ``remaining`` enabled groups to keep (1); ``scale-down``: ``remaining`` full-size
    groups (1), ``allow_active``; ``shrink``: ``remaining`` groups (1), ``allow_active`` and
    ``confirm``, which must be the cluster's name; ``rollback`` and ``find-image``: none.
    """
    if operation not in CLUSTER_OPERATIONS:
        known = ", ".join(CLUSTER_OPERATIONS)
        raise ValidationError({"operation": f"Unknown cluster operation {operation!r}; use {known}."})
    stage_type = CLUSTER_OPERATIONS[operation]
    _require_operator(actor, cluster, ACCOUNT_NEEDS.get(stage_type, Access.WRITE))
    if region not in cluster.account.regions:
        regions = ", ".join(cluster.account.regions) or "none"
        raise ValidationError(
            {"region": f"Account {cluster.account.name} has no region {region!r} (it has {regions})."}
        )
    stage = CLUSTER_STAGES[operation](cluster, region, fields)
    return _start(actor, cluster.application, [stage], name=stage["name"], confirm=fields.get("confirm"), source=source)


def _deploy_stage(cluster: Cluster, region: str, fields: dict[str, Any]) -> dict[str, Any]:
    """A ``deploy`` of one version of an artifact the account declares, as the next group of ``cluster``."""
    account, artifact = cluster.account, fields.get("artifact")
    declared = sorted(account.artifacts or {})
    if artifact not in declared:
        names = ", ".join(declared) or "none"
        raise ValidationError({"artifact": f"Pick an artifact account {account.name} declares ({names})."})
    version = str(fields.get("version") or "").strip()
    if not VERSION_PATTERN.fullmatch(version):
        raise ValidationError(
            {"version": "Give a version of letters, digits, '.', '_', '+' and '-', such as v2 or 1.4.3."}
        )
    strategy = fields.get("strategy") or ""
    if strategy not in dict(STRATEGY_CHOICES):
        raise ValidationError(
            {"strategy": f"Unknown strategy {strategy!r}; use none, redblack, highlander or rollingredblack."}
        )
    moniker = naming.parse(cluster.name)
    entry = {
        "account": account.name,
        "application": cluster.application.name,
        "stack": moniker.stack,
        "freeFormDetails": moniker.detail,
        "region": region,
        "artifact": {"name": artifact, "version": version},
        "capacity": _capacity(fields.get("capacity")),
        "loadBalancers": _load_balancers(cluster, region),
        "strategy": strategy,
    }
    return {
        "refId": "1",
        "type": "deploy",
        "name": f"Deploy {artifact}:{version} to {cluster.name}",
        "clusters": [entry],
    }


def _load_balancers(cluster: Cluster, region: str) -> list[str]:
    """Those of the cluster's newest group in ``region``, so the new version takes the same traffic."""
    newest = (
        ServerGroup.objects.active()
        .filter(cluster=cluster, region=region)
        .order_by("-created_at", "-pk")
        .prefetch_related("load_balancers")
        .first()
    )
    return sorted(balancer.name for balancer in newest.load_balancers.all()) if newest is not None else []


def _disable_stage(cluster: Cluster, region: str, fields: dict[str, Any]) -> dict[str, Any]:
    stage = _stage_json(cluster.account, cluster.name, region, "disableCluster", f"Disable cluster {cluster.name}")
    return {**stage, "remainingEnabledServerGroups": _remaining(fields), "preferLargerOverNewer": False}


def _scale_down_stage(cluster: Cluster, region: str, fields: dict[str, Any]) -> dict[str, Any]:
    name = f"Scale down cluster {cluster.name}"
    stage = _stage_json(cluster.account, cluster.name, region, "scaleDownCluster", name)
    return {
        **stage,
        "remainingFullSizeServerGroups": _remaining(fields),
        "allowScaleDownActive": bool(fields.get("allow_active")),
        "preferLargerOverNewer": False,
    }


def _shrink_stage(cluster: Cluster, region: str, fields: dict[str, Any]) -> dict[str, Any]:
    stage = _stage_json(cluster.account, cluster.name, region, "shrinkCluster", f"Shrink cluster {cluster.name}")
    return {
        **stage,
        "shrinkToSize": _remaining(fields),
        "allowDeleteActive": bool(fields.get("allow_active")),
        "retainLargerOverNewer": False,
    }


def _rollback_stage(cluster: Cluster, region: str, fields: dict[str, Any]) -> dict[str, Any]:
    stage = _stage_json(cluster.account, cluster.name, region, "rollbackCluster", f"Rollback cluster {cluster.name}")
    return {**stage, "targetHealthyRollbackPercentage": 100}


def _find_image_stage(cluster: Cluster, region: str, fields: dict[str, Any]) -> dict[str, Any]:
    name = f"Find image in {cluster.name}"
    stage = _stage_json(cluster.account, cluster.name, region, "findImageFromCluster", name)
    return {**stage, "selectionStrategy": "NEWEST", "onlyEnabled": True}


def _remaining(fields: dict[str, Any]) -> int:
    value = fields.get("remaining", 1)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValidationError({"remaining": "The number of server groups to keep must be a whole number, 0 or more."})
    return value


CLUSTER_STAGES: Final = {
    "deploy": _deploy_stage,
    "disable": _disable_stage,
    "scale-down": _scale_down_stage,
    "shrink": _shrink_stage,
    "rollback": _rollback_stage,
    "find-image": _find_image_stage,
}


# Orchestrations of any cluster stage --------------------------------------------------------


def run_orchestration(
    actor: AnyUser | None, application: Any, *, stages: Any, source: str, name: Any = None, confirm: Any = None
) -> Execution:
    """Start cluster stages given as JSON, as one orchestration of ``application`` (by name).

    404/403 without EXECUTE on the application; the stages are then checked as a pipeline save
    would check them, account permissions included (400 naming ``stages[i].…``). Only cluster
    stage types run this way (``ORCHESTRATION_STAGE_TYPES``). Stages without a ``refId`` are
    numbered 1, 2, … and, when none names ``requisiteStageRefIds``, run one after another.
    """
    if not isinstance(application, str) or not application:
        raise ValidationError({"application": "Name the application to run the stages for."})
    user: AnyUser = actor if actor is not None else AnonymousUser()
    target = get_application_for_user(user, application, "execute")
    checked = _orchestration_stages(stages)
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise ValidationError({"name": "name must be a non-empty string."})
    title = name.strip() if isinstance(name, str) else ", ".join(str(s.get("name") or s["type"]) for s in checked)
    return _start(actor, target, checked, name=title[:255], confirm=confirm, source=source)


def _orchestration_stages(stages: Any) -> list[dict[str, Any]]:
    if not isinstance(stages, list) or not stages or not all(isinstance(stage, dict) for stage in stages):
        raise ValidationError({"stages": "Give the stages to run: a stage object, or a non-empty list of them."})
    errors = {
        f"stages[{index}].type": f"{stage.get('type')!r} does not run as a one-off orchestration; use one of "
        f"{', '.join(sorted(ORCHESTRATION_STAGE_TYPES))}, or put it in a pipeline."
        for index, stage in enumerate(stages)
        if stage.get("type") not in ORCHESTRATION_STAGE_TYPES
    }
    if errors:
        raise ValidationError(errors)
    if any("refId" in stage for stage in stages):
        return [dict(stage) for stage in stages]
    chained = not any("requisiteStageRefIds" in stage for stage in stages)
    return [
        {**stage, "refId": str(index + 1), **({"requisiteStageRefIds": [str(index)]} if chained and index else {})}
        for index, stage in enumerate(stages)
    ]


# Starting and confirming --------------------------------------------------------------------


def _start(
    actor: AnyUser | None,
    application: Application,
    stages: list[dict[str, Any]],
    *,
    name: str,
    confirm: Any,
    source: str,
) -> Execution:
    """Check the typed confirmations of destructive stages, then start them as one orchestration."""
    confirmed = {confirm} if isinstance(confirm, str) else {item for item in confirm or [] if isinstance(item, str)}
    for stage in stages:
        expected = _confirmation(stage)
        if expected is not None and expected[0] not in confirmed:
            raise ValidationError({"confirm": expected[1]})
    return start_orchestration(actor, application, name=name, stages=stages, source=source)


def _confirmation(stage: dict[str, Any]) -> tuple[str, str] | None:
    """(What to type, the sentence asking for it) for a stage that destroys server groups."""
    kind, group, cluster = stage.get("type"), stage.get("serverGroupName"), stage.get("cluster")
    if kind == "destroyServerGroup" and isinstance(group, str) and group:
        return group, f"Type the server group's name, {group}, to confirm the destroy."
    if kind not in {"destroyServerGroup", "shrinkCluster"} or not isinstance(cluster, str) or not cluster:
        return None  # not destructive, or names nothing yet: the stage's own check says what is missing
    if kind == "shrinkCluster":
        return cluster, f"Type the cluster's name, {cluster}, to confirm the shrink: it destroys server groups."
    target = stage.get("target")
    return cluster, f"Type the cluster's name, {cluster}, to confirm destroying its {target} server group."
