"""Executions and pipelines as JSON documents, in Spinnaker's shape: one function for the API,
the CLI and the pages alike."""

from __future__ import annotations

import difflib
import json
from datetime import datetime
from typing import Any

from pipelines.models import Execution, Pipeline, StageExecution, TaskExecution
from pipelines.triggers.secrets import mask_secrets


def _time(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def pipeline_document(pipeline: Pipeline) -> dict[str, Any]:
    """The pipeline JSON for the API, the CLI and pages: trigger secrets masked."""
    return {**mask_secrets(pipeline.document), "version": pipeline.version, "updateTs": _time(pipeline.updated_at)}


def task_document(task: TaskExecution) -> dict[str, Any]:
    return {
        "id": str(task.id),
        "name": task.name,
        "status": task.status,
        "attempts": task.attempts,
        "message": task.message,
        "startTime": _time(task.started_at),
        "endTime": _time(task.ended_at),
        "nextRunTime": _time(task.next_run_at),
    }


def stage_document(stage: StageExecution, tasks: list[TaskExecution]) -> dict[str, Any]:
    return {
        "id": str(stage.id),
        "refId": stage.ref_id,
        "name": stage.name,
        "type": stage.type,
        "status": stage.status,
        "parentStageId": str(stage.parent_id) if stage.parent_id else None,
        "syntheticStageOwner": stage.synthetic_owner or None,
        "requisiteStageRefIds": stage.requisite_ref_ids,
        "context": stage.context,
        "outputs": stage.outputs,
        "failureMessage": stage.failure_message or None,
        "expressionFailures": stage.expression_failures,
        "restartDetails": stage.restart_details,
        "startTime": _time(stage.started_at),
        "endTime": _time(stage.ended_at),
        "tasks": [task_document(task) for task in tasks],
    }


def execution_document(execution: Execution) -> dict[str, Any]:
    """The whole execution with its stages and tasks, in three queries."""
    stages = list(execution.stages.order_by("position"))
    tasks: dict[Any, list[TaskExecution]] = {}
    for task in TaskExecution.objects.filter(stage__execution=execution).order_by("position"):
        tasks.setdefault(task.stage_id, []).append(task)
    return {
        **execution_summary(execution),
        "trigger": execution.trigger,
        "stages": [stage_document(stage, tasks.get(stage.pk, [])) for stage in stages],
    }


def execution_summary(execution: Execution) -> dict[str, Any]:
    return {
        "id": str(execution.id),
        "application": execution.application.name,
        "pipelineConfigId": str(execution.pipeline_id) if execution.pipeline_id else None,
        "name": execution.name,
        "status": execution.status,
        "parameters": execution.parameters,
        "canceled": execution.canceled,
        "canceledBy": execution.canceled_by or None,
        "cancellationReason": execution.cancellation_reason or None,
        "paused": {"pausedBy": execution.paused_by, "pauseTime": _time(execution.paused_at)}
        if execution.paused_at
        else None,
        "buildTime": _time(execution.created_at),
        "startTime": _time(execution.started_at),
        "endTime": _time(execution.ended_at),
    }


def version_diff(old: dict[str, Any], new: dict[str, Any], old_label: str, new_label: str) -> str:
    """A unified diff of two pipeline versions' JSON, keys sorted so only real changes show.

    Trigger secrets are masked on both sides, so a changed secret does not show.
    """
    lines = difflib.unified_diff(
        json.dumps(mask_secrets(old), indent=2, sort_keys=True).splitlines(),
        json.dumps(mask_secrets(new), indent=2, sort_keys=True).splitlines(),
        old_label,
        new_label,
        lineterm="",
    )
    return "\n".join(lines)
