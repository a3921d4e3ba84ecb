"""The trigger index (``PipelineTrigger`` rows): one row per trigger of every pipeline.

``sync`` rewrites a pipeline's rows from its JSON; ``pipelines.actions.save_pipeline`` calls it
on every save and restore (under the pipeline's row lock), and deleting a pipeline deletes its
rows. A cron row keeps its next firing time when its schedule did not change, so an unrelated
edit neither skips nor repeats a firing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.conf import settings

from pipelines.engine import clock
from pipelines.models import Pipeline, PipelineTrigger
from pipelines.triggers.cron import CronError, next_after, parse, time_zone


def row_fields(config: Mapping[str, Any], now: datetime, default_zone: str) -> list[dict[str, Any]]:
    """The index rows a pipeline config asks for, as field dicts."""
    rows = []
    for index, trigger in enumerate(config.get("triggers") or []):
        if not isinstance(trigger, dict) or not isinstance(trigger.get("type"), str):
            continue
        kind = trigger["type"][:32]
        enabled = trigger.get("enabled", True) is not False
        row: dict[str, Any] = {
            "index": index,
            "trigger_id": str(trigger.get("id") or "")[:255],
            "type": kind,
            "key": _key(kind, trigger)[:255],
            "enabled": enabled,
        }
        if kind == "cron":
            row["cron_expression"] = str(trigger.get("cronExpression", ""))[:255]
            row["time_zone"] = str(trigger.get("timeZone") or default_zone)[:64]
            if enabled and not config.get("disabled"):
                row["next_fire_at"] = _first_firing(row, now)
        rows.append(row)
    return rows


def _key(kind: str, trigger: Mapping[str, Any]) -> str:
    if kind == "webhook":
        return str(trigger.get("source") or "")
    if kind == "git":
        return str(trigger.get("source") or "").lower()
    if kind == "pipeline":
        return str(trigger.get("pipeline") or "")
    return ""


def _first_firing(row: Mapping[str, Any], now: datetime) -> datetime | None:
    try:
        return next_after(parse(row["cron_expression"]), now, time_zone(row["time_zone"]))
    except CronError:
        return None  # saved before validation knew cron; it never fires rather than firing wrongly


def sync(pipeline: Pipeline) -> None:
    """Rewrite the pipeline's index rows from its config. Call it under the pipeline's row lock."""
    old = {row.index: row for row in PipelineTrigger.objects.filter(pipeline=pipeline)}
    rows = []
    for fields in row_fields(pipeline.config, clock.now(), settings.SPINWEB_CRON_TIME_ZONE):
        before = old.get(fields["index"])
        if before is not None and _same_schedule(before, fields):
            fields["next_fire_at"] = before.next_fire_at
        rows.append(PipelineTrigger(pipeline=pipeline, **fields))
    PipelineTrigger.objects.filter(pipeline=pipeline).delete()
    PipelineTrigger.objects.bulk_create(rows)


def _same_schedule(row: PipelineTrigger, fields: Mapping[str, Any]) -> bool:
    return (
        row.next_fire_at is not None
        and fields.get("next_fire_at") is not None
        and row.cron_expression == fields["cron_expression"]
        and row.time_zone == fields["time_zone"]
        and row.trigger_id == fields["trigger_id"]
    )
