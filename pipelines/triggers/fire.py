"""Starting runs for triggers, and recording every attempt: the actions of the triggers package.

Each kind of event (cron tick, webhook, git push, pipeline end) finds its candidate triggers in
the index (``PipelineTrigger``), weighs each one and writes a ``TriggerEvent`` with one
``TriggerEvaluation`` per candidate: fired (with the run it started), skipped (and why), refused
by ``start_execution`` (a parameter, a disabled pipeline, an execution policy), or failed. A run is started and its
evaluation written in one transaction per candidate, so a failure in one pipeline neither
undoes nor blocks the others.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from django.core.exceptions import ValidationError
from django.db import transaction

from pipelines import actions
from pipelines.engine import clock
from pipelines.models import Execution, Pipeline, PipelineTrigger, TriggerEvaluation, TriggerEvent
from policies.types import PolicyDenied
from spinweb.models import AuditSource

logger = logging.getLogger(__name__)

Outcome = TriggerEvaluation.Outcome
MAX_STORED_PAYLOAD_BYTES: Final = 64 * 1024
"""Largest payload kept on a ``TriggerEvent``; bigger ones keep their top-level keys only."""


@dataclass
class Candidate:
    """An indexed trigger with its pipeline (and application) and its JSON as saved now."""

    row: PipelineTrigger
    trigger: dict[str, Any]

    @property
    def pipeline(self) -> Pipeline:
        return self.row.pipeline

    @property
    def enabled(self) -> bool:
        return self.trigger.get("enabled", True) is not False


@dataclass
class Verdict:
    """What became of one candidate; ``execution`` is set when it fired."""

    candidate: Candidate
    outcome: str
    reason: str
    execution: Execution | None = None
    hidden: bool = False
    """Not reported back to the caller (it failed a signature the caller should have known)."""


@dataclass
class Report:
    event: TriggerEvent
    verdicts: list[Verdict] = field(default_factory=list)

    @property
    def fired(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.outcome == Outcome.FIRED]


def candidates(kind: str, key: str) -> list[Candidate]:
    """Indexed triggers of ``kind`` looked up by ``key``, with their current JSON (one query)."""
    rows = PipelineTrigger.objects.filter(type=kind, key=key).select_related("pipeline__application")
    found = []
    for row in rows.order_by("pipeline__application__name", "pipeline__name", "index"):
        triggers = row.pipeline.config.get("triggers") or []
        trigger = triggers[row.index] if row.index < len(triggers) else None
        if isinstance(trigger, dict) and trigger.get("type") == kind:
            found.append(Candidate(row, trigger))
    return found


def bounded(payload: Any) -> Any:
    """``payload`` as stored on an event: whole when small, else its shape only."""
    text = json.dumps(payload, default=str)
    if len(text.encode()) <= MAX_STORED_PAYLOAD_BYTES:
        return payload
    keys = list(payload)[:50] if isinstance(payload, dict) else []
    return {"truncated": True, "bytes": len(text.encode()), "keys": keys}


def record_event(kind: str, source: str, payload: Any, summary: str, remote: str | None = None) -> TriggerEvent:
    return TriggerEvent.objects.create(
        kind=kind,
        source=source[:255],
        received_at=clock.now(),
        payload=bounded(payload),
        summary=summary,
        remote_address=remote,
    )


def weigh(
    event: TriggerEvent,
    found: Iterable[Candidate],
    judge: Callable[[Candidate], Verdict | None],
    start: Callable[[Candidate], tuple[dict[str, Any], dict[str, Any]]],
) -> Report:
    """Judge each candidate (a verdict = it does not fire) and start the rest.

    ``start`` gives the run's trigger document and parameters. Skipped candidates are written
    together at the end; each run is started and recorded in a transaction of its own.
    """
    report = Report(event)
    skipped = []
    for candidate in found:
        verdict = judge(candidate)
        if verdict is None:
            document, parameters = start(candidate)
            verdict = launch(event, candidate, document, parameters)
        else:
            skipped.append(verdict)
        report.verdicts.append(verdict)
    TriggerEvaluation.objects.bulk_create(_evaluation(event, v) for v in skipped)
    return report


def standard_skip(candidate: Candidate) -> Verdict | None:
    """Disabled triggers and pipelines never fire."""
    if not candidate.enabled:
        return Verdict(candidate, Outcome.SKIPPED, "The trigger is disabled.")
    if candidate.pipeline.config.get("disabled"):
        return Verdict(candidate, Outcome.SKIPPED, "The pipeline is disabled.")
    return None


def launch(event: TriggerEvent, candidate: Candidate, document: dict[str, Any], parameters: dict[str, Any]) -> Verdict:
    """Start the candidate's pipeline and record the evaluation in the same transaction.

    The checks (execution policies included) come first, outside that transaction, so the policy
    decision of a refused start stays in the decision log.
    """
    try:
        checked = actions.check_start_execution(
            None, candidate.pipeline, parameters=parameters, trigger=document, source=AuditSource.SYSTEM
        )
        with transaction.atomic():
            execution = actions.start_checked(checked)
            verdict = Verdict(candidate, Outcome.FIRED, f"Started {_where(candidate)}.", execution)
            TriggerEvaluation.objects.create(**_fields(event, verdict))
            return verdict
    except ValidationError as exc:
        verdict = Verdict(candidate, Outcome.REFUSED, " ".join(exc.messages))
    except PolicyDenied as exc:
        verdict = Verdict(candidate, Outcome.REFUSED, str(exc))
    except Exception as exc:
        logger.exception("Starting %s for %s failed", _where(candidate), event)
        verdict = Verdict(candidate, Outcome.ERROR, f"Starting the run failed ({type(exc).__name__}); see the log.")
    TriggerEvaluation.objects.create(**_fields(event, verdict))
    return verdict


def _where(candidate: Candidate) -> str:
    return f"{candidate.pipeline.application.name}/{candidate.pipeline.name}"


def base_document(candidate: Candidate, kind: str, **fields: Any) -> dict[str, Any]:
    """The run's trigger: type, the trigger's id, its runAsUser as the user label, then ``fields``."""
    document: dict[str, Any] = {"type": kind, "id": candidate.trigger.get("id") or candidate.row.trigger_id or None}
    if candidate.trigger.get("runAsUser"):
        document["user"] = candidate.trigger["runAsUser"]
    document.update(fields)
    return document


def _evaluation(event: TriggerEvent, verdict: Verdict) -> TriggerEvaluation:
    return TriggerEvaluation(**_fields(event, verdict))


def _fields(event: TriggerEvent, verdict: Verdict) -> dict[str, Any]:
    candidate = verdict.candidate
    return {
        "event": event,
        "application_id": candidate.pipeline.application_id,
        "pipeline": candidate.pipeline,
        "pipeline_name": candidate.pipeline.name,
        "trigger_index": candidate.row.index,
        "trigger_id": candidate.row.trigger_id,
        "trigger_type": candidate.row.type,
        "outcome": verdict.outcome,
        "reason": verdict.reason,
        "execution": verdict.execution,
        "created_at": clock.now(),
    }


def summarize(report: Report, nothing: str) -> None:
    """Write the event's summary sentence once every candidate is weighed."""
    if not report.verdicts:
        report.event.summary = nothing
    else:
        counts: dict[str, int] = {}
        for verdict in report.verdicts:
            counts[verdict.outcome] = counts.get(verdict.outcome, 0) + 1
        parts = [f"{counts[o]} {Outcome(o).label.lower()}" for o in Outcome.values if o in counts]
        report.event.summary = f"{len(report.verdicts)} candidate trigger(s): {', '.join(parts)}."
    report.event.save(update_fields=["summary"])
