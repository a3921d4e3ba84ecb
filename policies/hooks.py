"""The hooks, their Rego packages (Armory's names), and what each decision looks like.

Deny-set hooks ask each policy for its set ``deny`` of messages; ``authz`` asks for a boolean
``allow`` and an optional ``message`` (deny by default once any authz policy is enabled).
"""

from __future__ import annotations

import re
from enum import StrEnum


class Hook(StrEnum):
    SAVE = "save"
    EXECUTION = "execution"
    STAGE = "stage"
    TASK = "task"
    DEPLOYMENT = "deployment"
    AUTHZ = "authz"


SAVE_PACKAGE = "spinnaker.persistence.pipelines.before"
SAVE_ALIAS = "opa.pipelines"
EXECUTION_PACKAGE = "spinnaker.execution.pipelines.before"
STAGE_PREFIX = "spinnaker.execution.stages.before."
TASK_PREFIX = "spinnaker.execution.tasks.before."
DEPLOYMENT_PREFIX = "spinnaker.deployment.tasks.before."
AUTHZ_PACKAGE = "spinnaker.http.authz"

# The version of the input documents (README "Policy inputs"); every input carries it in
# ``input.meta.schema``. Change it only with a migration note: policies depend on the shape.
INPUT_SCHEMA = "spinweb.policy-input/v1"

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# Provider operations as the deployment hook names them (Clouddriver's operation names).
OPERATIONS = {
    "create_server_group": "createServerGroup",
    "resize": "resizeServerGroup",
    "enable": "enableServerGroup",
    "disable": "disableServerGroup",
    "set_traffic_weight": "setServerGroupTrafficWeight",
    "destroy": "destroyServerGroup",
    "upsert_load_balancer": "upsertLoadBalancer",
    "delete_load_balancer": "deleteLoadBalancer",
}


def stage_package(stage_type: str) -> str:
    return STAGE_PREFIX + stage_type


def task_package(task_type: str) -> str:
    return TASK_PREFIX + task_type


def deployment_package(operation: str) -> str:
    return DEPLOYMENT_PREFIX + operation


def packages_for(hook: Hook, package: str) -> list[str]:
    """The policy packages a hook's package covers: the save hook also answers to ``opa.pipelines``."""
    return [SAVE_PACKAGE, SAVE_ALIAS] if hook == Hook.SAVE else [package]


def hook_of(package: str) -> Hook | None:
    """Which hook evaluates policies in ``package``; None when no hook does (such a policy never decides)."""
    if package in (SAVE_PACKAGE, SAVE_ALIAS):
        return Hook.SAVE
    if package == EXECUTION_PACKAGE:
        return Hook.EXECUTION
    if package == AUTHZ_PACKAGE:
        return Hook.AUTHZ
    for prefix, hook in ((STAGE_PREFIX, Hook.STAGE), (TASK_PREFIX, Hook.TASK), (DEPLOYMENT_PREFIX, Hook.DEPLOYMENT)):
        if package.startswith(prefix) and _NAME.match(package[len(prefix) :]):
            return hook
    return None


def rule_of(hook: Hook) -> str:
    """The rule a decision reads: ``allow`` for authz, the set ``deny`` for every other hook."""
    return "allow" if hook == Hook.AUTHZ else "deny"
