"""A strategy interrupted by a cancel (or by a failure elsewhere that halted the run) leaves one group serving.

The engine runs the cancel hook of a task only while that task is running, and a strategy may be
anywhere when the cancel comes: at a manual judgment, in a wait, in a validation pipeline, or
between two tasks. So the clean-up listens for the end of the run instead
(``execution_finished``), and handles every ``createServerGroup`` stage with a strategy that the
end caught half-way (status CANCELED).

What it does, per region, at once (a run that ended cannot wait on anything):
- while the source still takes traffic, or the new group does not: the source gets its pinned
  capacity back and all of the traffic, and the new group is disabled;
- once all traffic had moved to the new group (the source no longer takes any): the new group
  keeps it, at weight 100, and the source is disabled.
The stage's failure message then says which it was.

Idempotent: every provider call has a key derived from the stage, and a stage that was already
handled (``restoredAfterCancel`` in its context) is skipped, so a repeated signal does nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.dispatch import receiver

from clouds.models import Account
from clouds.providers.base import Provider, ProviderError, ServerGroupState, provider_for
from clouds.stages.strategies.fields import SWITCHING, strategy_of
from clouds.stages.strategies.plans import Deployment, Source, as_dict, deployment_of
from clouds.stages.strategies.steps import restore
from pipelines.engine.events import execution_finished
from pipelines.models import StageExecution
from pipelines.statuses import Status

logger = logging.getLogger(__name__)
DONE = "restoredAfterCancel"


@receiver(execution_finished, dispatch_uid="clouds.stages.strategies.interrupts")
def on_execution_finished(sender: Any, execution_id: Any, **kwargs: Any) -> None:
    """Hand the clean-up to a worker (provider calls do not belong in the request that canceled)."""
    if not interrupted(execution_id):
        return
    if settings.SPINWEB_ENGINE_DISPATCH == "none":
        restore_interrupted(str(execution_id))
        return
    from django_q.tasks import async_task

    async_task("clouds.stages.strategies.interrupts.restore_interrupted", str(execution_id), save=False)


def interrupted(execution_id: Any) -> list[StageExecution]:
    """The execution's deploys whose strategy the end of the run caught half-way."""
    stages = StageExecution.objects.filter(
        execution_id=execution_id, type="createServerGroup", status=Status.CANCELED
    ).select_related("execution")
    return [
        stage
        for stage in stages
        if strategy_of(stage.context) in SWITCHING and DONE not in stage.context and deployment_of(stage.context)
    ]


def restore_interrupted(execution_id: str) -> None:
    for stage in interrupted(execution_id):
        deployment = deployment_of(stage.context)
        if deployment is None:
            continue
        summary = f"{_how(stage)} {settle(stage, deployment)}"
        StageExecution.objects.filter(pk=stage.pk).update(
            failure_message=summary, context={**stage.context, DONE: summary}
        )


def _how(stage: StageExecution) -> str:
    """``Canceled during Grow to 50%.``, or how the run ended when a failure elsewhere halted it."""
    caught = stage.children.filter(status=Status.CANCELED).order_by("-position").values_list("name", flat=True)
    step = caught.first() or stage.name
    ended = stage.execution.status
    return f"Canceled during {step}." if ended == Status.CANCELED else f"The run ended {ended} during {step}."


def settle(stage: StageExecution, deployment: Deployment) -> str:
    """Leave one group serving in each region; a sentence saying what was done."""
    account = Account.objects.filter(name=deployment.account).first()
    if account is None:
        return f"Account {deployment.account} no longer exists; the server groups were left as they were."
    provider = provider_for(account)
    sentences = []
    for region, name in deployment.created.items():
        try:
            sentences.append(
                settle_region(provider, region, name, deployment.sources.get(region), f"cancel:{stage.pk}")
            )
        except ProviderError as exc:
            logger.warning("Could not settle %s in %s after a cancel: %s", name, region, exc.message)
            sentences.append(f"{name} in {region} could not be settled: {exc.message}")
    return " ".join(sentences)


def settle_region(provider: Provider, region: str, name: str, source: Source | None, prefix: str) -> str:
    latest = provider.server_group(name, region)
    old = provider.server_group(source.name, region) if source is not None else None
    if source is None or old is None:
        return f"{name} was left as it was: there is no earlier server group to go back to."
    if latest is not None and serving(latest) and not serving(old):
        if latest.traffic_weight != 100:
            provider.set_traffic_weight(name, region, 100, idempotency_key=f"{prefix}:{region}:weight")
        if old.enabled:
            provider.disable(old.name, region, idempotency_key=f"{prefix}:{region}:disable-source")
        return f"All traffic had moved to {name}, which keeps serving it; {old.name} is disabled."
    restore(provider, old, as_dict(source.capacity), f"{prefix}:{region}")
    if latest is not None and latest.enabled:
        provider.disable(name, region, idempotency_key=f"{prefix}:{region}:disable")
    return f"{old.name} serves all traffic again; {name} is disabled."


def serving(group: ServerGroupState) -> bool:
    return bool(group.enabled and group.effective_weight > 0 and group.up_count > 0)
