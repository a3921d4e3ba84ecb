"""``deploy``: one new server group per entry of ``clusters[]``, each in a parallel ``createServerGroup`` stage.

A cluster entry is Spinnaker's: ``account``, ``application`` (default: the pipeline's), ``stack``,
``freeFormDetails``, ``region`` / ``regions`` / ``availabilityZones`` (``{"local": []}``),
``artifact`` (``{"name", "version"}``, one of the account's named artifacts), ``capacity``
(``{min, max, desired}``, default 1/1/1), ``environment`` (only names the artifact allows),
``loadBalancers``, ``healthCheckPath`` (``/health``), ``targetHealthyDeployPercentage`` (100),
``strategy`` and the strategy's own fields.

``createServerGroup`` creates the next version of the cluster in each region (the task's
idempotency key makes a re-run find the same group), then waits until enough of its instances
are UP. Its outputs, as Spinnaker's: ``deploy.server.groups`` (``{region: [name]}``),
``deploy.account.name`` and ``serverGroupName``, plus ``artifact``. With a strategy other than
none, a first task (``determineSourceServerGroup``) pins the group the deploy replaces; what the
strategy does next is planned by :func:`strategy_stages` once the group is healthy, and its
rollback by :func:`strategy_failure_stages` (``clouds.stages.strategies``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from clouds import naming
from clouds.models import Account
from clouds.providers.base import (
    ArtifactRef,
    Capacity,
    HealthCheck,
    ServerGroupSpec,
    ServerGroupState,
    provider_for,
)
from clouds.stages import checks, strategies
from clouds.stages.common import (
    ProviderTask,
    Refused,
    WaitTask,
    account_for,
    check_application,
    checked_regions,
    key,
    live_states,
    number_field,
    regions_of,
)
from clouds.stages.targets import needed_up
from pipelines.engine.types import (
    StageType,
    SyntheticStage,
    TaskContext,
    TaskResult,
    register_stage,
    register_task,
)
from pipelines.models import StageExecution
from pipelines.statuses import Status

STRATEGIES = ("", "none", "redblack", "rollingredblack", "highlander")
# A child stage's own keys, which a cluster entry may not override.
OWN_KEYS = frozenset({"type", "name", "refId", "requisiteStageRefIds"})


# Strategy hooks ----------------------------------------------------------------------------


def strategy_stages(stage: StageExecution) -> list[SyntheticStage]:
    """What a ``createServerGroup`` stage's ``strategy`` adds after the new group is healthy.

    Synthetic after-stages (``enableServerGroup``, ``disableCluster``, ``moveTraffic``, …) built by
    ``clouds.stages.strategies``; cluster-wide ones leave the groups in this stage's
    ``deploy.server.groups`` alone. ``""`` (none) adds nothing.
    """
    return strategies.after_stages(stage)


def strategy_failure_stages(stage: StageExecution) -> list[SyntheticStage]:
    """The rollback a strategy runs when its ``createServerGroup`` stage failed (see ``strategies``)."""
    return strategies.failure_stages(stage)


def strategy_spec(context: Mapping[str, Any], spec: ServerGroupSpec) -> ServerGroupSpec:
    """How a strategy changes the group it creates: out of traffic until healthy; rolling starts at zero."""
    return strategies.adjust_spec(context, spec)


# Stages ------------------------------------------------------------------------------------


@register_stage
class DeployStage(StageType):
    type = "deploy"
    label = "Deploy"

    def check(self, stage: Mapping[str, Any]) -> list[tuple[str, str]]:
        clusters = stage.get("clusters")
        if not isinstance(clusters, list) or not clusters:
            return [("clusters", "clusters must be a non-empty list of cluster deployments.")]
        issues: list[tuple[str, str]] = []
        for index, entry in enumerate(clusters):
            at = f"clusters[{index}]"
            if not isinstance(entry, dict):
                issues.append((at, "Each cluster deployment must be an object."))
                continue
            issues += cluster_entry_issues(entry, at=at + ".")
        return issues

    def before_stages(self, stage: StageExecution) -> list[SyntheticStage]:
        return [
            SyntheticStage(
                "createServerGroup", _child_name(entry), {k: v for k, v in entry.items() if k not in OWN_KEYS}
            )
            for entry in stage.context.get("clusters", [])
            if isinstance(entry, dict)
        ]


def _child_name(entry: Mapping[str, Any]) -> str:
    try:
        where = ", ".join(regions_of(entry))
    except Refused:
        where = "?"
    return f"Deploy in {where}"


@register_stage
class CreateServerGroupStage(StageType):
    type = "createServerGroup"
    label = "Create server group"

    def check(self, stage: Mapping[str, Any]) -> list[tuple[str, str]]:
        return cluster_entry_issues(stage)

    def tasks(self, stage: StageExecution) -> list[str]:
        return [*strategies.source_tasks(stage.context), "createServerGroup", "waitForUpInstances"]

    def after_stages(self, stage: StageExecution) -> list[SyntheticStage]:
        return strategy_stages(stage)

    def on_failure_stages(self, stage: StageExecution) -> list[SyntheticStage]:
        return strategy_failure_stages(stage)


def cluster_entry_issues(entry: Mapping[str, Any], *, at: str = "") -> list[tuple[str, str]]:
    """Save-time checks of one ``clusters[]`` entry (or a ``createServerGroup`` stage)."""
    issues = _account_key_issues(entry, at) + _location_issues(entry, at) + _naming_issues(entry, at)
    issues += _artifact_issues(entry.get("artifact"), at + "artifact")
    if "capacity" in entry:
        issues += checks.capacity(entry["capacity"], at + "capacity")
    issues += _environment_issues(entry.get("environment"), at + "environment")
    issues += _load_balancer_issues(entry.get("loadBalancers"), at + "loadBalancers")
    issues += checks.percent(entry, "targetHealthyDeployPercentage", at=at)
    issues += checks.one_of(entry, "strategy", STRATEGIES, at=at)
    issues += checks.whole(entry, "maxRemainingAsgs", low=1, at=at) + strategies.entry_issues(entry, at)
    path = entry.get("healthCheckPath")
    if path is not None and not checks.is_expression(path) and (not isinstance(path, str) or not path.startswith("/")):
        issues.append((at + "healthCheckPath", "healthCheckPath must be a URL path starting with /."))
    return issues


def _account_key_issues(entry: Mapping[str, Any], at: str) -> list[tuple[str, str]]:
    if "account" not in entry and "credentials" in entry:
        return checks.text(entry, "credentials", at=at)
    return checks.text(entry, "account", at=at)


def _location_issues(entry: Mapping[str, Any], at: str) -> list[tuple[str, str]]:
    zones = entry.get("availabilityZones")
    if "regions" not in entry and "region" not in entry and zones is not None:
        if not isinstance(zones, dict) or not zones:
            return [(at + "availabilityZones", 'availabilityZones must be an object such as {"local": []}.')]
        return []
    return checks.regions(entry, at=at)


def _naming_issues(entry: Mapping[str, Any], at: str) -> list[tuple[str, str]]:
    issues: list[tuple[str, str]] = []
    for field, validate in (
        ("application", naming.validate_app_name),
        ("stack", naming.validate_stack),
        ("freeFormDetails", naming.validate_detail),
    ):
        value = entry.get(field)
        if value is None or checks.is_expression(value):
            continue
        try:
            validate(value)
        except naming.NamingError as exc:
            issues.append((at + field, str(exc)))
    return issues


def _artifact_issues(value: Any, at: str) -> list[tuple[str, str]]:
    if checks.is_expression(value):
        return []
    if not isinstance(value, dict):
        return [(at, 'artifact must be an object such as {"name": "sample", "version": "v1"}.')]
    return [
        (f"{at}.{part}", f"artifact.{part} must be a non-empty string.")
        for part in ("name", "version")
        if not isinstance(value.get(part), str) or not value[part].strip()
    ]


def _environment_issues(value: Any, at: str) -> list[tuple[str, str]]:
    if value is None or checks.is_expression(value):
        return []
    if not isinstance(value, dict):
        return [(at, "environment must be an object of names to string values.")]
    return [
        (f"{at}.{name}", f"The value of environment variable {name} must be a string or a number.")
        for name, item in value.items()
        if isinstance(item, bool) or not isinstance(item, (str, int, float))
    ]


def _load_balancer_issues(value: Any, at: str) -> list[tuple[str, str]]:
    if value is None or checks.is_expression(value):
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        return [(at, "loadBalancers must be a list of load balancer names.")]
    return []


# Tasks -------------------------------------------------------------------------------------


def build_spec(context: Mapping[str, Any], application: str, account: str, region: str) -> ServerGroupSpec:
    """The provider spec of one cluster entry in one region (values already evaluated)."""
    spec = ServerGroupSpec(
        application=application,
        account=account,
        region=region,
        stack=str(context.get("stack") or ""),
        detail=str(context.get("freeFormDetails") or ""),
        artifact=_artifact(context.get("artifact")),
        capacity=_capacity(context.get("capacity")),
        environment={str(name): str(value) for name, value in (context.get("environment") or {}).items()},
        health_check=HealthCheck(path=str(context.get("healthCheckPath") or "/health")),
        load_balancers=[str(name) for name in context.get("loadBalancers") or []],
    )
    return strategy_spec(context, spec)


def _artifact(value: Any) -> ArtifactRef:
    if not isinstance(value, dict) or not all(isinstance(value.get(part), str) for part in ("name", "version")):
        raise Refused(f'artifact must be {{"name": …, "version": …}}, not {value!r}.')
    return ArtifactRef(name=value["name"], version=value["version"])


def _capacity(value: Any) -> Capacity:
    value = value if value is not None else {"min": 1, "max": 1, "desired": 1}
    try:
        return Capacity(min=int(value["min"]), max=int(value["max"]), desired=int(value["desired"]))
    except (KeyError, TypeError, ValueError):
        raise Refused(f"capacity must be {{min, max, desired}} with whole numbers, not {value!r}.") from None


def _account_name(context: Mapping[str, Any]) -> str:
    value = context.get("account") or context.get("credentials")
    if not isinstance(value, str) or not value:
        raise Refused("The cluster deployment names no account.")
    return value


@register_task
class CreateServerGroupTask(ProviderTask):
    name = "createServerGroup"
    timeout = timedelta(minutes=5)

    def execute(self, ctx: TaskContext) -> TaskResult:
        context = ctx.stage.context
        application = str(context.get("application") or ctx.execution.application.name)
        account = account_for(ctx, _account_name(context))
        regions = checked_regions(account, regions_of(context))
        specs = [build_spec(context, application, account.name, region) for region in regions]
        check_application(ctx, specs[0].cluster)
        provider = provider_for(account)
        created = [
            provider.create_server_group(spec, idempotency_key=key(ctx, "create", spec.region)) for spec in specs
        ]
        return _created(account, created)


def _created(account: Account, groups: list[ServerGroupState]) -> TaskResult:
    deployed: dict[str, list[str]] = {}
    for group in groups:
        deployed.setdefault(group.region, []).append(group.name)
    facts = {
        "deploy.account.name": account.name,
        "deploy.cluster": groups[0].cluster,
        "deploy.server.groups": deployed,
        "serverGroupName": groups[0].name,
        "artifact": {"name": groups[0].artifact.name, "version": groups[0].artifact.version},
    }
    return TaskResult(Status.SUCCEEDED, outputs=facts, context=facts)


@register_task
class WaitForUpInstancesTask(WaitTask):
    name = "waitForUpInstances"
    timeout = timedelta(hours=2)

    def execute(self, ctx: TaskContext) -> TaskResult:
        context = ctx.stage.context
        percent = number_field(context, "targetHealthyDeployPercentage", 100)
        provider = provider_for(Account.objects.get(name=context["deploy.account.name"]))
        deployed: dict[str, list[str]] = context["deploy.server.groups"]
        lagging = []
        for (region, name), state in live_states(provider, context["deploy.cluster"], deployed).items():
            if state is None:
                raise Refused(f"{name} in {region} disappeared while waiting for its instances to come up.")
            if not state.has_healthy_percent(percent):
                lagging.append(health_summary(state, percent))
        return self.outcome(ctx, lagging)


def health_summary(state: ServerGroupState, percent: float) -> str:
    """``shop-web-v001 is not healthy yet: 1 of 3 instances UP, 3 needed (…-1 DOWN, …-2 STARTING).``"""
    others = ", ".join(f"{item.id} {item.health}" for item in state.instances if item.health != "UP")
    detail = f" ({others})" if others else ""
    return (
        f"{state.name} is not healthy yet: {state.up_count} of {state.capacity.desired} instances UP, "
        f"{needed_up(state.capacity.desired, percent)} needed{detail}."
    )
