"""The input documents of every hook (schema ``spinweb.policy-input/v1``, see README "Policy inputs").

Keep them lean: building and handing a document to the engine is most of a decision's cost.
Secrets never enter a document: trigger secrets are masked, credentials are never read.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pipelines.triggers.secrets import MASK, mask_secrets
from policies.hooks import (
    AUTHZ_PACKAGE,
    EXECUTION_PACKAGE,
    INPUT_SCHEMA,
    SAVE_PACKAGE,
    Hook,
    deployment_package,
    stage_package,
    task_package,
)
from spinweb.permissions import is_admin

if TYPE_CHECKING:
    from pipelines.models import Execution, StageExecution, TaskExecution
    from spinweb.permissions import AnyUser

_SECRET_WORDS = ("secret", "password", "token", "credential", "authorization", "apikey", "api_key")


def meta(hook: Hook, package: str) -> dict[str, Any]:
    now = time.time_ns()
    stamp = datetime.fromtimestamp(now / 1e9, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {"schema": INPUT_SCHEMA, "hook": hook.value, "package": package, "time": stamp, "timeNs": now}


def user_document(user: AnyUser | None, label: str = "") -> dict[str, Any]:
    """``{username, isAdmin, roles}``; roles are group names, read once per user object."""
    if user is None or not user.is_authenticated:
        fallback = "anonymous" if user is not None else "system"
        return {"username": label or fallback, "isAdmin": False, "roles": []}
    roles: list[str] | None = getattr(user, "_spinweb_policy_roles", None)
    if roles is None:
        groups: Any = getattr(user, "groups", None)
        roles = sorted(groups.values_list("name", flat=True)) if groups is not None and user.is_active else []
        setattr(user, "_spinweb_policy_roles", roles)  # noqa: B010 (a per-request cache, not a declared attribute)
    return {"username": user.get_username(), "isAdmin": is_admin(user), "roles": list(roles)}


def _user(user: AnyUser | dict[str, Any] | None) -> dict[str, Any]:
    return dict(user) if isinstance(user, dict) else user_document(user)


def save_input(pipeline: dict[str, Any], user: AnyUser | dict[str, Any] | None) -> dict[str, Any]:
    return {"pipeline": mask_secrets(pipeline), "user": _user(user), "meta": meta(Hook.SAVE, SAVE_PACKAGE)}


def masked_trigger(trigger: dict[str, Any]) -> dict[str, Any]:
    """The trigger with values under secret-looking keys masked (webhook payloads may carry some)."""
    return {key: MASK if _secret_key(key) and value else value for key, value in trigger.items()}


def _secret_key(key: str) -> bool:
    lowered = key.lower()
    return any(word in lowered for word in _SECRET_WORDS)


def execution_input(
    pipeline_doc: dict[str, Any], trigger: dict[str, Any], execution_id: str, user: AnyUser | dict[str, Any] | None
) -> dict[str, Any]:
    pipeline = {
        **mask_secrets(pipeline_doc),
        "id": str(pipeline_doc.get("id") or ""),
        "application": pipeline_doc.get("application", ""),
        "name": pipeline_doc.get("name", ""),
        "executionId": str(execution_id),
        "trigger": masked_trigger(trigger),
    }
    return {"pipeline": pipeline, "user": _user(user), "meta": meta(Hook.EXECUTION, EXECUTION_PACKAGE)}


_STAGE_FIELDS = (
    "id",
    "ref_id",
    "type",
    "name",
    "status",
    "requisite_ref_ids",
    "parent_id",
    "synthetic_owner",
)


def execution_document(execution: Execution) -> dict[str, Any]:
    """The run as policies see it (``input.pipeline`` of the stage and task hooks); one query."""
    from pipelines.models import StageExecution

    rows = StageExecution.objects.filter(execution_id=execution.pk).order_by("position").values_list(*_STAGE_FIELDS)
    return {
        "id": str(execution.pk),
        "application": _application_name(execution),
        "name": execution.name,
        "pipelineConfigId": str(execution.pipeline_id) if execution.pipeline_id else None,
        "status": execution.status,
        "trigger": masked_trigger(execution.trigger or {}),
        "authentication": {"user": _run_username(execution)},
        "stages": [_stage_row(row) for row in rows],
    }


def _application_name(execution: Execution) -> str:
    # The run's config names its application: no query for the Application row.
    named = execution.config.get("application") if isinstance(execution.config, dict) else None
    return str(named) if named else execution.application.name


def _run_username(execution: Execution) -> str:
    label = (execution.trigger or {}).get("user")
    return label if isinstance(label, str) and label else "system"


def _stage_row(row: tuple[Any, ...]) -> dict[str, Any]:
    pk, ref_id, kind, name, status, requisites, parent, owner = row
    return {
        "id": str(pk),
        "refId": ref_id,
        "type": kind,
        "name": name,
        "status": status,
        "requisiteStageRefIds": list(requisites or []),
        "parentStageId": str(parent) if parent else None,
        "syntheticStageOwner": owner or None,
    }


def stage_document(stage: StageExecution, context: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "id": str(stage.pk),
        "type": stage.type,
        "name": stage.name,
        "refId": stage.ref_id,
        "status": stage.status,
        "context": stage.context if context is None else context,
        "parentStageId": str(stage.parent_id) if stage.parent_id else None,
        "syntheticStageOwner": stage.synthetic_owner or None,
    }


def stage_input(
    execution: Execution,
    stage: StageExecution,
    context: dict[str, Any],
    user: AnyUser | dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``{pipeline, stage, user, meta}``; ``context`` is the stage after expression evaluation."""
    return {
        "pipeline": execution_document(execution),
        "stage": stage_document(stage, context),
        "user": _user(user) if user is not None else execution_user(execution),
        "meta": meta(Hook.STAGE, stage_package(stage.type)),
    }


def task_input(
    execution: Execution, stage: StageExecution, task: TaskExecution, user: AnyUser | dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "task": {
            "id": str(task.pk),
            "name": task.name,
            "type": task.name,
            "status": task.status,
            "attempts": task.attempts,
        },
        "stage": stage_document(stage),
        "pipeline": execution_document(execution),
        "user": _user(user) if user is not None else execution_user(execution),
        "meta": meta(Hook.TASK, task_package(task.name)),
    }


def deploy_input(operation: str, deploy: dict[str, Any], user_doc: dict[str, Any]) -> dict[str, Any]:
    """``deploy`` holds operation, account, provider, environment, region, application, cluster,
    serverGroup, capacity, artifact, loadBalancers, weight and current (see README)."""
    return {
        "deploy": {"operation": operation, **deploy},
        "user": dict(user_doc),
        "meta": meta(Hook.DEPLOYMENT, deployment_package(operation)),
    }


def authz_input(method: str, path: list[str], body: Any, user: AnyUser | dict[str, Any] | None) -> dict[str, Any]:
    return {
        "method": method.upper(),
        "path": list(path),
        "body": body,
        "user": _user(user),
        "meta": meta(Hook.AUTHZ, AUTHZ_PACKAGE),
    }


def execution_user(execution: Execution) -> dict[str, Any]:
    """The run's user document: who started it, else the label its trigger carries."""
    if execution.started_by_id is not None:
        user = execution.started_by
        if user is not None:
            return user_document(user)
    return user_document(None, label=_run_username(execution))
