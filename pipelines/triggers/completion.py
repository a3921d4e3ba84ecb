"""Pipeline-completion triggers: a run's end starts the pipelines that follow it.

``execution_finished`` is sent after the ending run's transaction commits, so each child run
starts in a transaction of its own, never inside another execution's. A run's end is recorded
as an event only when some trigger follows its pipeline.
"""

from __future__ import annotations

import json
from typing import Any, Final

from django.dispatch import receiver

from pipelines.engine.events import execution_finished
from pipelines.models import Execution, TriggerEvent
from pipelines.statuses import Status
from pipelines.triggers.fire import (
    Candidate,
    Outcome,
    Verdict,
    base_document,
    candidates,
    record_event,
    standard_skip,
    summarize,
    weigh,
)

# Execution statuses as the trigger's ``status`` list names them (Spinnaker's words).
ENDINGS: Final = {
    Status.SUCCEEDED: "successful",
    Status.TERMINAL: "failed",
    Status.STOPPED: "failed",
    Status.CANCELED: "canceled",
}
MAX_OUTPUT_BYTES: Final = 16 * 1024
"""A parent stage's outputs bigger than this are left out of the child's trigger."""


@receiver(execution_finished, dispatch_uid="pipelines.triggers.completion")
def on_execution_finished(sender: Any, execution_id: Any, **kwargs: Any) -> None:
    fire_followers(execution_id)


def fire_followers(execution_id: Any) -> None:
    """Start the pipelines whose completion trigger follows this run's pipeline and status."""
    execution = Execution.objects.select_related("application").filter(pk=execution_id).first()
    if execution is None or execution.pipeline_id is None:
        return
    found = candidates("pipeline", str(execution.pipeline_id))
    if not found:
        return
    ending = ENDINGS.get(Status(execution.status))
    where = f"{execution.application.name}/{execution.name}"
    payload = {"execution": str(execution.pk), "pipeline": str(execution.pipeline_id), "status": execution.status}
    event = record_event(TriggerEvent.Kind.PIPELINE, f"{where} {execution.pk}", payload, "")
    parent = parent_summary(execution)

    def judge(candidate: Candidate) -> Verdict | None:
        skip = standard_skip(candidate)
        if skip is not None:
            return skip
        wanted = candidate.trigger.get("status") or []
        if ending is None or ending not in wanted:
            shown = ending or execution.status
            follows = " or ".join(str(s) for s in wanted) or "nothing"
            return Verdict(candidate, Outcome.SKIPPED, f"{where} ended {shown}; this trigger follows {follows}.")
        return None

    def start(candidate: Candidate) -> tuple[dict[str, Any], dict[str, Any]]:
        document = base_document(
            candidate,
            "pipeline",
            parentExecution=parent,
            parentPipelineId=str(execution.pipeline_id),
            parentPipelineApplication=execution.application.name,
            parentPipelineName=execution.name,
            parentStatus=execution.status,
            eventId=str(event.pk),
        )
        document.setdefault("user", execution.trigger.get("user") or "system")
        return document, {}

    summarize(weigh(event, found, judge, start), "")


def parent_summary(execution: Execution) -> dict[str, Any]:
    """The parent run as the child's ``trigger.parentExecution``: bounded, its own parent shortened."""
    trigger = dict(execution.trigger)
    grandparent = trigger.get("parentExecution")
    if isinstance(grandparent, dict):
        trigger["parentExecution"] = {key: grandparent.get(key) for key in ("id", "application", "name", "status")}
    trigger.pop("payload", None)
    stages = execution.stages.filter(parent__isnull=True).order_by("position")
    return {
        "id": str(execution.pk),
        "type": "PIPELINE",
        "application": execution.application.name,
        "name": execution.name,
        "status": execution.status,
        "pipelineConfigId": str(execution.pipeline_id),
        "trigger": trigger,
        "startTime": execution.started_at.isoformat() if execution.started_at else None,
        "endTime": execution.ended_at.isoformat() if execution.ended_at else None,
        "stages": [
            {"name": s.name, "refId": s.ref_id, "type": s.type, "status": s.status, "outputs": _bounded(s.outputs)}
            for s in stages
        ],
    }


def _bounded(outputs: dict[str, Any]) -> dict[str, Any]:
    if len(json.dumps(outputs, default=str)) <= MAX_OUTPUT_BYTES:
        return outputs
    return {"truncated": True}
