"""Firing cron triggers: the sweeper thread of every worker calls ``fire_due_crons`` each second.

Why not django-q2's own ``Schedule``: its scheduler looks for due schedules only every ~30 s
and reads cron expressions in the single Django ``TIME_ZONE``, so it can neither keep Quartz's
seconds nor give each trigger its own ``timeZone``. Here each enabled cron trigger has an indexed
``PipelineTrigger.next_fire_at`` computed by croniter on the trigger's zone (``cron.next_after``),
and the sweeper that already runs every ``SPINWEB_SWEEP_SECONDS`` in each worker claims the due
rows. No extra process, and any number of workers share the work without firing twice.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from pipelines.engine import clock
from pipelines.models import Pipeline, PipelineTrigger, TriggerEvent
from pipelines.triggers.cron import CronError, next_after, parse, time_zone
from pipelines.triggers.fire import Candidate, Report, base_document, record_event, standard_skip, weigh

BATCH = 100


def fire_due_crons(now: datetime | None = None) -> int:
    """Start a run for every cron trigger due at ``now``; the number of triggers claimed.

    Each due row is claimed in a short transaction of its own (``SKIP LOCKED``, so workers
    take different rows) that moves ``next_fire_at`` to the first firing AFTER ``now``: a
    trigger missed while no worker ran fires once on recovery, not once per missed time. The
    run starts after the claim commits, so a crash in between loses that one firing rather
    than repeating it (at most once).
    """
    now = now or clock.now()
    due = PipelineTrigger.objects.filter(type="cron", next_fire_at__lte=now).order_by("next_fire_at")
    claimed = 0
    for pk in list(due.values_list("pk", flat=True)[:BATCH]):
        row = _claim(pk, now)
        if row is not None:
            _fire(row, now)
            claimed += 1
    return claimed


def _claim(pk: int, now: datetime) -> tuple[PipelineTrigger, datetime] | None:
    with transaction.atomic():
        locked = PipelineTrigger.objects.select_for_update(skip_locked=True)
        row = locked.filter(pk=pk, type="cron", next_fire_at__lte=now).first()
        if row is None or row.next_fire_at is None:
            return None  # another worker has it, or a save moved it meanwhile
        scheduled = row.next_fire_at
        row.next_fire_at = _next(row, now)
        row.save(update_fields=["next_fire_at"])
    return row, scheduled


def _next(row: PipelineTrigger, now: datetime) -> datetime | None:
    try:
        return next_after(parse(row.cron_expression), now, time_zone(row.time_zone))
    except CronError:
        return None


def _fire(claim: tuple[PipelineTrigger, datetime], now: datetime) -> Report | None:
    row, scheduled = claim
    pipeline = Pipeline.objects.select_related("application").filter(pk=row.pipeline_id).first()
    triggers = (pipeline.config.get("triggers") or []) if pipeline is not None else []
    trigger = triggers[row.index] if row.index < len(triggers) else None
    if pipeline is None or not isinstance(trigger, dict) or trigger.get("type") != "cron":
        return None  # edited or deleted since the claim; the save rewrote the index
    row.pipeline = pipeline
    candidate = Candidate(row, trigger)
    where = f"{pipeline.application.name}/{pipeline.name} triggers[{row.index}]"
    payload = {"cronExpression": row.cron_expression, "timeZone": row.time_zone, "scheduledTime": scheduled.isoformat()}
    summary = f"Cron {row.cron_expression} ({row.time_zone}) due at {scheduled.isoformat()}."
    event = record_event(TriggerEvent.Kind.CRON, where, payload, summary)
    document = base_document(candidate, "cron", cronExpression=row.cron_expression, timeZone=row.time_zone)
    document["eventId"] = str(event.pk)
    return weigh(event, [candidate], standard_skip, lambda c: (document, {}))
