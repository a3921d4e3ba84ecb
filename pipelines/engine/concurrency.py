"""Spinnaker's per-pipeline concurrency: ``limitConcurrent``, ``keepWaitingPipelines``,
``maxConcurrentExecutions``. Decisions are taken under the pipeline's row lock."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from pipelines.models import Execution, Pipeline
from pipelines.statuses import Status


def running_count(pipeline_id: Any) -> int:
    return Execution.objects.filter(pipeline_id=pipeline_id, status__in=[Status.RUNNING, Status.PAUSED]).count()


def may_start_now(config: dict[str, Any], pipeline_id: Any) -> bool:
    """Whether a new run of this pipeline may start, or must wait (BUFFERED)."""
    running = running_count(pipeline_id)
    if config.get("limitConcurrent", True):
        return running == 0
    cap = config.get("maxConcurrentExecutions") or 0
    return cap <= 0 or running < cap


def release_waiting(pipeline_id: Any) -> None:
    """A run ended: start waiting runs as the pipeline's settings say. Caller is in a transaction."""
    from pipelines.engine.runner import begin, halt

    with transaction.atomic():
        pipeline = Pipeline.objects.select_for_update().filter(pk=pipeline_id).first()
        if pipeline is None:
            return
        waiting = list(Execution.objects.filter(pipeline_id=pipeline_id, status=Status.BUFFERED).order_by("created_at"))
        if not waiting:
            return
        config = pipeline.config
        if config.get("limitConcurrent", True) and not config.get("keepWaitingPipelines", False):
            # Only the newest waiting run goes; the older ones are canceled, as in Spinnaker.
            newest = waiting[-1]
            for older in waiting[:-1]:
                halt(
                    older,
                    Status.CANCELED,
                    canceled_by="spinweb",
                    release=False,
                    reason="A newer run of this pipeline was waiting (keepWaitingPipelines is false).",
                )
            waiting = [newest]
        while waiting and may_start_now(config, pipeline_id):
            execution = Execution.objects.select_for_update().get(pk=waiting.pop(0).pk)
            begin(execution)
