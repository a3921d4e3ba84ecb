"""The ``kayentaCanary`` stage's deployments: a baseline and a canary next to production, and their clean-up.

With ``deployments``, the stage deploys two small server groups out of traffic: the control
(baseline) runs the artifact of the newest enabled group of the ``baseline`` cluster (production's
version; production itself is never touched), the experiment (canary) the experiment entry's
artifact. Once both are UP they are enabled behind the experiment entry's load balancers (default:
production's) with one traffic weight each, so each takes about ``trafficPercent`` % of requests:
``w = round(p * W / (1 - 2p))`` clamped to 1..100, ``W`` being the weight already behind the balancer.

Clean-up (disable, then destroy both) always happens: after the analysis (``canaryCleanup`` after
``delayBeforeCleanup``), when the stage fails (the same stage, on failure) and on cancel (the cancel
hook of every task of the stage, and the end-of-run receiver for a cancel caught between two
tasks). Every clean-up call uses a key derived from the canary stage, so the paths never act twice.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.dispatch import receiver

from canary import runs
from canary.models import CanaryRun
from canary.runs import finish_run
from canary.stage_fields import CanaryDeployments, FieldsInvalid, deployments_of
from clouds import naming
from clouds.models import Account, ProviderOperation
from clouds.providers.base import (
    PermanentProviderError,
    Provider,
    ProviderError,
    ServerGroupSpec,
    ServerGroupState,
    provider_for,
)
from clouds.stages.common import (
    ProviderTask,
    Refused,
    WaitTask,
    account_for,
    check_application,
    checked_regions,
    key,
)
from clouds.stages.deploy import build_spec, health_summary
from pipelines.engine import clock
from pipelines.engine.events import execution_finished
from pipelines.engine.types import StageType, SyntheticStage, TaskContext, TaskResult, register_stage, register_task
from pipelines.models import StageExecution
from pipelines.statuses import Status
from spinweb.permissions import Access

logger = logging.getLogger(__name__)
ROLES = ("control", "experiment")
DEPLOYED = "canaryDeployments"
CANARY_STAGE = "kayentaCanary"
CLEANUP_STAGE = "canaryCleanup"
DEFAULT_DETAIL = {"control": "baseline", "experiment": "canary"}
# Fields of a cluster entry the canary decides itself.
DECIDED = frozenset({"application", "artifact", "capacity", "loadBalancers", "strategy", "type", "name", "refId"})


@dataclass(frozen=True)
class Production:
    """The baseline cluster's newest enabled group: the version the baseline runs, untouched."""

    account: Account
    region: str
    group: ServerGroupState


# The deployments -------------------------------------------------------------------------------


class CanaryTask(ProviderTask):
    """A task of the canary stage: a cancel while it runs cleans up what the stage deployed."""

    def on_cancel(self, ctx: TaskContext) -> None:
        clean_up_now(ctx.stage)


def canary_deployments(ctx: TaskContext) -> CanaryDeployments:
    try:
        parsed = deployments_of(ctx.stage.context)
    except FieldsInvalid as exc:
        raise Refused(str(exc)) from None
    if parsed is None:
        raise Refused("The stage has no deployments.")
    return parsed


@register_task
class DeployCanaryServerGroupsTask(CanaryTask):
    name = "deployCanaryServerGroups"
    timeout = timedelta(minutes=5)

    def execute(self, ctx: TaskContext) -> TaskResult:
        deployments = canary_deployments(ctx)
        production = production_of(ctx, deployments.baseline)
        planned = {role: canary_spec(ctx, deployments, role, production) for role in ROLES}
        if planned["control"][1].cluster == planned["experiment"][1].cluster:
            raise Refused(f"control and experiment would both deploy to cluster {planned['control'][1].cluster}.")
        balancers = planned["experiment"][1].load_balancers
        created: dict[str, dict[str, Any]] = {}
        for role, (account, spec) in planned.items():
            try:
                group = provider_for(account).create_server_group(spec, idempotency_key=key(ctx, "create", role))
            except PermanentProviderError as exc:
                # What was created already must be known to the clean-up.
                facts = deployment_facts(production, created, balancers, deployments.traffic_percent)
                return TaskResult(Status.TERMINAL, message=exc.message, context=facts)
            created[role] = _group_facts(account, group)
        facts = deployment_facts(production, created, balancers, deployments.traffic_percent)
        return TaskResult(
            Status.SUCCEEDED, context=facts, outputs={"deployedServerGroups": facts["deployedServerGroups"]}
        )


def production_of(ctx: TaskContext, baseline: Mapping[str, Any]) -> Production:
    cluster = str(baseline["cluster"])
    check_application(ctx, cluster)
    account = account_for(ctx, str(baseline["account"]), Access.READ)
    region = str(baseline.get("region") or _sole_region(account))
    checked_regions(account, [region])
    group = next((group for group in provider_for(account).server_groups(cluster, region) if group.enabled), None)
    if group is None:
        raise Refused(f"Cluster {cluster} has no enabled server group in {region} to take the baseline version from.")
    return Production(account, region, group)


def _sole_region(account: Account) -> str:
    if len(account.regions) != 1:
        raise Refused(f"deployments.baseline.region is needed: account {account.name} has several regions.")
    return str(account.regions[0])


def canary_spec(
    ctx: TaskContext, deployments: CanaryDeployments, role: str, production: Production
) -> tuple[Account, ServerGroupSpec]:
    """The account and provider spec of the control or the experiment group (created out of traffic)."""
    entry = deployments.control if role == "control" else deployments.experiment
    account = account_for(ctx, str(entry.get("account") or production.account.name))
    region = str(entry.get("region") or production.region)
    checked_regions(account, [region])
    context = {name: value for name, value in entry.items() if name not in DECIDED}
    if "stack" not in entry and "freeFormDetails" not in entry:
        context["stack"] = naming.parse(production.group.cluster).stack
        context["freeFormDetails"] = DEFAULT_DETAIL[role]
    artifact = entry.get("artifact") if role == "experiment" else None
    context["artifact"] = artifact or {
        "name": production.group.artifact.name,
        "version": production.group.artifact.version,
    }
    context["capacity"] = deployments.experiment.get("capacity") or deployments.control.get("capacity")
    context["loadBalancers"] = deployments.experiment.get("loadBalancers") or production.group.load_balancers
    spec = replace(build_spec(context, ctx.execution.application.name, account.name, region), enabled=False)
    check_application(ctx, spec.cluster)
    if spec.cluster == production.group.cluster:
        raise Refused(
            f"The {role} group would join production's cluster {spec.cluster}: give it a stack or freeFormDetails."
        )
    return account, spec


def _group_facts(account: Account, group: ServerGroupState) -> dict[str, Any]:
    return {
        "account": account.name,
        "region": group.region,
        "cluster": group.cluster,
        "serverGroup": group.name,
        "artifact": {"name": group.artifact.name, "version": group.artifact.version},
    }


def deployment_facts(
    production: Production, created: dict[str, dict[str, Any]], balancers: list[str], percent: float
) -> dict[str, Any]:
    groups = {role: facts["serverGroup"] for role, facts in created.items()}
    production_facts = _group_facts(production.account, production.group)
    return {
        DEPLOYED: {**created, "production": production_facts, "loadBalancers": balancers, "trafficPercent": percent},
        "deployedServerGroups": groups,
    }


def deployed(context: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """``{role: {account, region, serverGroup, …}}`` of the groups the stage created."""
    facts = context.get(DEPLOYED) or {}
    return {role: facts[role] for role in ROLES if isinstance(facts.get(role), dict)}


def _providers(context: Mapping[str, Any]) -> list[tuple[str, Provider, dict[str, Any]]]:
    found = []
    for role, facts in deployed(context).items():
        account = Account.objects.filter(name=facts["account"]).first()
        if account is None:
            raise Refused(f"Account {facts['account']} of the {role} group no longer exists.")
        found.append((role, provider_for(account), facts))
    return found


@register_task
class WaitForCanaryServerGroupsTask(WaitTask, CanaryTask):
    name = "waitForCanaryServerGroups"
    timeout = timedelta(minutes=30)

    def execute(self, ctx: TaskContext) -> TaskResult:
        lagging = []
        for _role, provider, facts in _providers(ctx.stage.context):
            state = _live(provider, facts)
            if not state.has_healthy_percent(100):
                lagging.append(health_summary(state, 100))
        return self.outcome(ctx, lagging)


def _live(provider: Provider, facts: Mapping[str, Any]) -> ServerGroupState:
    state = provider.server_group(facts["serverGroup"], facts["region"])
    if state is None:
        raise Refused(f"{facts['serverGroup']} in {facts['region']} disappeared during the canary.")
    return state


def traffic_weight(percent: float, others: int) -> int:
    """The weight that gives each of two new groups ``percent`` % next to ``others`` weight."""
    share = percent / 100
    return max(1, min(100, round(share * others / (1 - 2 * share))))


@register_task
class EnableCanaryTrafficTask(CanaryTask):
    name = "enableCanaryTraffic"
    timeout = timedelta(minutes=5)

    def execute(self, ctx: TaskContext) -> TaskResult:
        facts = dict(ctx.stage.context[DEPLOYED])
        groups = _providers(ctx.stage.context)
        ours = {facts["serverGroup"] for _role, _provider, facts in groups}
        others = 0
        if facts["loadBalancers"]:
            _role, provider, experiment = groups[-1]
            balancer = provider.load_balancer(facts["loadBalancers"][0], experiment["region"])
            if balancer is not None:
                others = sum(weight for name, weight in balancer.server_groups.items() if name not in ours)
        weight = traffic_weight(float(facts["trafficPercent"]), others)
        for role, provider, group in groups:
            name, region = group["serverGroup"], group["region"]
            provider.set_traffic_weight(name, region, weight, idempotency_key=key(ctx, "weight", role))
            provider.enable(name, region, idempotency_key=key(ctx, "enable", role))
        return TaskResult(Status.SUCCEEDED, context={DEPLOYED: {**facts, "trafficWeight": weight}})


@register_task
class WaitForCanaryTrafficTask(WaitTask, CanaryTask):
    name = "waitForCanaryTraffic"
    timeout = timedelta(minutes=10)

    def execute(self, ctx: TaskContext) -> TaskResult:
        missing = []
        for _role, provider, facts in _providers(ctx.stage.context):
            state = _live(provider, facts)
            if state.effective_weight == 0:
                missing.append(f"{state.name} is not taking traffic yet.")
            elif not state.has_healthy_percent(100):
                missing.append(health_summary(state, 100))
        return self.outcome(ctx, missing)


# Clean-up --------------------------------------------------------------------------------------


def cleanup_stages(stage: StageExecution, *, delay: timedelta) -> list[SyntheticStage]:
    """The ``canaryCleanup`` stage for what ``stage`` deployed (none when it deployed nothing)."""
    groups = created_groups(stage)
    if not groups:
        return []
    context = {DEPLOYED: groups, "delaySeconds": delay.total_seconds(), "canaryStageId": str(stage.pk)}
    return [SyntheticStage(CLEANUP_STAGE, "Clean up baseline and canary", context)]


def created_groups(stage: StageExecution) -> dict[str, dict[str, Any]]:
    """What the stage created: from its context, else from the provider operations of its deploy task.

    The fallback covers a deploy interrupted between the provider's answer and the recorded result.
    """
    found = deployed(stage.context)
    if len(found) == len(ROLES):
        return found
    task = stage.tasks.filter(name=DeployCanaryServerGroupsTask.name).values_list("pk", flat=True).first()
    if task is None:
        return found
    keys = {f"{task}:create:{role}": role for role in ROLES}
    operations = ProviderOperation.objects.filter(key__in=keys, operation="create_server_group").select_related(
        "account"
    )
    for operation in operations:
        name, region = operation.request.get("name"), operation.target.rpartition("@")[2]
        if name and keys[operation.key] not in found:
            found[keys[operation.key]] = {"account": operation.account.name, "region": region, "serverGroup": name}
    return found


@register_stage
class CanaryCleanupStage(StageType):
    type = CLEANUP_STAGE
    label = "Clean up canary"

    def check(self, stage: Mapping[str, Any]) -> list[tuple[str, str]]:
        return [("type", "canaryCleanup runs only as a step of a kayentaCanary stage; it cannot be written.")]

    def tasks(self, stage: StageExecution) -> list[str]:
        names = ["disableCanaryServerGroups", "waitForCanaryServerGroupsDisabled", "destroyCanaryServerGroups"]
        return ["waitBeforeCanaryCleanup", *names, "waitForCanaryServerGroupsDestroyed"]


def _cleanup_key(stage: StageExecution, role: str, action: str) -> str:
    """The same key on every clean-up path of one canary stage (after success, failure, cancel)."""
    owner = stage.context.get("canaryStageId") or stage.pk
    return f"canary:{owner}:{role}:{action}"


@register_task
class WaitBeforeCanaryCleanupTask(CanaryTask):
    name = "waitBeforeCanaryCleanup"
    timeout = timedelta(days=7)

    def execute(self, ctx: TaskContext) -> TaskResult:
        until = (ctx.stage.started_at or clock.now()) + timedelta(seconds=float(ctx.stage.context["delaySeconds"]))
        if clock.now() >= until:
            return TaskResult.succeeded()
        return TaskResult.running(until, cleanupAt=until.isoformat())


@register_task
class DisableCanaryServerGroupsTask(CanaryTask):
    name = "disableCanaryServerGroups"
    timeout = timedelta(minutes=5)

    def execute(self, ctx: TaskContext) -> TaskResult:
        for role, provider, facts in _providers(ctx.stage.context):
            state = provider.server_group(facts["serverGroup"], facts["region"])
            if state is not None and state.enabled:
                provider.disable(state.name, state.region, idempotency_key=_cleanup_key(ctx.stage, role, "disable"))
        return TaskResult.succeeded()


@register_task
class WaitForCanaryServerGroupsDisabledTask(WaitTask, CanaryTask):
    name = "waitForCanaryServerGroupsDisabled"
    timeout = timedelta(minutes=5)

    def execute(self, ctx: TaskContext) -> TaskResult:
        busy = []
        for _role, provider, facts in _providers(ctx.stage.context):
            state = provider.server_group(facts["serverGroup"], facts["region"])
            if state is not None and state.effective_weight > 0:
                busy.append(f"{state.name} is still taking traffic.")
        return self.outcome(ctx, busy)


@register_task
class DestroyCanaryServerGroupsTask(CanaryTask):
    name = "destroyCanaryServerGroups"
    timeout = timedelta(minutes=5)

    def execute(self, ctx: TaskContext) -> TaskResult:
        for role, provider, facts in _providers(ctx.stage.context):
            key_ = _cleanup_key(ctx.stage, role, "destroy")
            provider.destroy(facts["serverGroup"], facts["region"], idempotency_key=key_)
        return TaskResult.succeeded()


@register_task
class WaitForCanaryServerGroupsDestroyedTask(WaitTask, CanaryTask):
    name = "waitForCanaryServerGroupsDestroyed"
    timeout = timedelta(minutes=10)

    def execute(self, ctx: TaskContext) -> TaskResult:
        left = [
            f"{facts['serverGroup']} is still being destroyed."
            for _role, provider, facts in _providers(ctx.stage.context)
            if provider.server_group(facts["serverGroup"], facts["region"]) is not None
        ]
        result = self.outcome(ctx, left)
        if result.status == Status.SUCCEEDED:
            mark_cleaned_up(ctx.stage.context.get("canaryStageId"))
            names = sorted(facts["serverGroup"] for facts in deployed(ctx.stage.context).values())
            return TaskResult(Status.SUCCEEDED, outputs={"destroyedServerGroups": names})
        return result


def mark_cleaned_up(canary_stage_id: Any) -> None:
    """Record on the stage's canary run that its baseline and canary are gone."""
    if canary_stage_id:
        runs.mark_cleaned_up(canary_stage_id)


def clean_up_now(stage: StageExecution) -> None:
    """Disable and destroy the canary stage's groups at once (a canceled run cannot wait).

    ``stage`` is the ``kayentaCanary`` stage or its ``canaryCleanup`` child. Safe to repeat: the
    keys are the clean-up stage's own, and a destroyed group is simply gone.
    """
    canary = stage
    if stage.type == CLEANUP_STAGE and stage.parent_id is not None:
        canary = StageExecution.objects.get(pk=stage.parent_id)
    groups = created_groups(canary)
    _cancel_run(canary)
    for role, facts in groups.items():
        account = Account.objects.filter(name=facts["account"]).first()
        if account is None:
            continue
        try:
            provider = provider_for(account)
            name, region = facts["serverGroup"], facts["region"]
            state = provider.server_group(name, region)
            if state is not None and state.enabled:
                provider.disable(name, region, idempotency_key=_cleanup_key(canary, role, "disable"))
            provider.destroy(name, region, idempotency_key=_cleanup_key(canary, role, "destroy"))
        except ProviderError as exc:
            logger.warning("Could not clean up canary group %s: %s", facts.get("serverGroup"), exc.message)
    if groups:
        mark_cleaned_up(canary.pk)


def _cancel_run(stage: StageExecution) -> None:
    run = CanaryRun.objects.filter(stage=stage, state=CanaryRun.State.RUNNING).first()
    if run is not None:
        finish_run(run, CanaryRun.State.CANCELED, message="The pipeline run was canceled.")


@receiver(execution_finished, dispatch_uid="canary.deploy_tasks")
def on_execution_finished(sender: Any, execution_id: Any, **kwargs: Any) -> None:
    """A cancel caught between two tasks runs no cancel hook: clean up the canceled canaries here."""
    if not interrupted(execution_id):
        return
    if settings.SPINWEB_ENGINE_DISPATCH == "none":
        clean_up_interrupted(str(execution_id))
        return
    from django_q.tasks import async_task

    async_task("canary.deploy_tasks.clean_up_interrupted", str(execution_id), save=False)


def interrupted(execution_id: Any) -> list[StageExecution]:
    stages = StageExecution.objects.filter(
        execution_id=execution_id, type__in=[CANARY_STAGE, CLEANUP_STAGE], status=Status.CANCELED
    )
    return [stage for stage in stages if stage.type == CLEANUP_STAGE or created_groups(stage)]


def clean_up_interrupted(execution_id: str) -> None:
    for stage in interrupted(execution_id):
        clean_up_now(stage)
