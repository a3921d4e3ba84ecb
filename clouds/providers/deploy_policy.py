"""The deployment hook (``spinnaker.deployment.tasks.before.<operation>``) of the provider interface.

``Provider``'s public mutating methods call :func:`require` after the idempotency store shows the
operation is not done yet and before the driver acts. The ``input.deploy`` document is built only
when a policy covers the operation (reading the target group's state is a provider call). Who acts,
and for which run and stage, comes from :mod:`policies.context`: the engine sets it around every
task; outside a run it is the system user.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from clouds import naming
from policies import context, gate, inputs
from policies.hooks import OPERATIONS, Hook, deployment_package

if TYPE_CHECKING:
    from clouds.providers.base import Provider, ServerGroupSpec

Fields = Callable[[], dict[str, Any]]

# Every ``input.deploy`` has every field; an operation fills those it knows.
EMPTY: dict[str, Any] = {
    "region": "",
    "application": "",
    "cluster": "",
    "serverGroup": None,
    "capacity": None,
    "artifact": None,
    "loadBalancers": [],
    "weight": None,
    "current": None,
}


def require(provider: Provider, operation: str, target: str, fields: Fields) -> None:
    """Raise ``PermanentProviderError`` with every denial when the deployment policies refuse.

    Nothing is recorded on the operation: a repeat after the policies change may act.
    """
    from clouds.providers.base import PermanentProviderError

    name, who, account = OPERATIONS[operation], context.current(), provider.account

    def document() -> dict[str, Any]:
        where: dict[str, Any] = {
            "account": account.name,
            "provider": str(account.provider),
            "environment": account.environment,
        }
        where |= {"stageType": who.stage_type, "task": who.task}
        return inputs.deploy_input(name, {"operation": name, **where, **fields()}, who.user())

    decision = gate.decide(
        Hook.DEPLOYMENT,
        deployment_package(name),
        document,
        application=who.application,
        execution_id=who.execution_id,
        stage_id=who.stage_id,
        subject=f"{name} of {target} in account {account.name}",
    )
    if not decision.allowed:
        raise PermanentProviderError(" ".join(decision.denials))


def spec_fields(spec: ServerGroupSpec) -> dict[str, Any]:
    """A creation: the new group's cluster, size, artifact and load balancers (its name comes later)."""
    return {
        **EMPTY,
        "region": spec.region,
        "application": spec.application,
        "cluster": spec.cluster,
        "capacity": asdict(spec.capacity),
        "artifact": asdict(spec.artifact),
        "loadBalancers": list(spec.load_balancers),
    }


def group_fields(provider: Provider, name: str, region: str, **given: Any) -> Fields:
    """An operation on server group ``name``; ``current`` is its state before the call (None if gone)."""

    def build() -> dict[str, Any]:
        state = provider.server_group(name, region)
        moniker = _moniker(name)
        fields = {
            **EMPTY,
            "region": region,
            "application": moniker.app if moniker else "",
            "cluster": moniker.cluster if moniker else "",
            "serverGroup": name,
        }
        if state is not None:
            fields.update(
                capacity=asdict(state.capacity),
                artifact=asdict(state.artifact),
                loadBalancers=list(state.load_balancers),
                current={
                    "name": name,
                    "enabled": state.enabled,
                    "weight": state.traffic_weight,
                    "instances": len(state.instances),
                    "up": state.up_count,
                },
            )
        return {**fields, **given}

    return build


def balancer_fields(name: str, region: str) -> dict[str, Any]:
    moniker = _moniker(name)
    return {**EMPTY, "region": region, "application": moniker.app if moniker else "", "loadBalancers": [name]}


def _moniker(name: str) -> naming.Moniker | None:
    try:
        return naming.parse(name)
    except naming.NamingError:
        return None
