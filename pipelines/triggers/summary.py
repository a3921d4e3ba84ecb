"""One line per trigger of a pipeline, for the pipelines list and the triggers page.

``trigger_summaries(config, now)`` is the interface pages call. Pipeline-completion triggers name
their upstream pipeline by id; pass ``pipeline_names`` (from ``names_for``, one query for a whole
page) to show names without a query per pipeline, else one query is made for this config.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pipelines.triggers.checks import COMPLETION_STATUSES

NEXT_FIRINGS = 3


@dataclass
class TriggerSummary:
    type: str
    enabled: bool
    text: str
    next_firings: list[datetime] = field(default_factory=list)


def trigger_summaries(
    config: dict[str, Any], now: datetime | None = None, *, pipeline_names: Mapping[str, str] | None = None
) -> list[TriggerSummary]:
    """A summary of each trigger object in ``config["triggers"]``, in order.

    Cron triggers carry their next firings in their own zone, none when the trigger or the
    pipeline is disabled.
    """
    triggers = [t for t in config.get("triggers") or [] if isinstance(t, dict)]
    if pipeline_names is None:
        pipeline_names = names_for([config])
    if now is None:
        from pipelines.engine import clock

        now = clock.now()
    return [_summary(trigger, config, now, pipeline_names) for trigger in triggers]


def names_for(configs: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Pipeline id -> name of every pipeline the completion triggers in ``configs`` follow (one query)."""
    from pipelines.models import Pipeline, is_uuid

    ids = {
        str(t.get("pipeline"))
        for config in configs
        for t in config.get("triggers") or []
        if isinstance(t, dict) and t.get("type") == "pipeline" and is_uuid(t.get("pipeline"))
    }
    if not ids:
        return {}
    return {str(pk): name for pk, name in Pipeline.objects.filter(pk__in=ids).values_list("pk", "name")}


def _summary(
    trigger: dict[str, Any], config: Mapping[str, Any], now: datetime, names: Mapping[str, str]
) -> TriggerSummary:
    kind = str(trigger.get("type", ""))
    enabled = trigger.get("enabled", True) is not False
    summary = TriggerSummary(kind, enabled, _text(kind, trigger, names))
    if kind == "cron" and enabled and not config.get("disabled"):
        from pipelines.triggers.cron import next_firings

        summary.next_firings = next_firings(trigger, NEXT_FIRINGS, now)
    return summary


def _text(kind: str, trigger: Mapping[str, Any], names: Mapping[str, str]) -> str:
    if kind == "cron":
        from django.conf import settings

        zone = trigger.get("timeZone") or settings.SPINWEB_CRON_TIME_ZONE
        return f"Cron {trigger.get('cronExpression', '')} ({zone})"
    if kind == "webhook":
        return _webhook_text(trigger)
    if kind == "git":
        branch = f"branch {trigger['branch']}" if trigger.get("branch") else "any branch"
        signed = ", signed" if trigger.get("secret") else ""
        repository = f"{trigger.get('project', '')}/{trigger.get('slug', '')}"
        return f"Git {trigger.get('source', '')} {repository} {branch}{signed}"
    if kind == "pipeline":
        upstream = str(trigger.get("pipeline", ""))
        statuses = [s for s in COMPLETION_STATUSES if s in (trigger.get("status") or [])]
        ends = " or ".join(statuses) or "with no status chosen"
        return f"When {trigger.get('application', '')}/{names.get(upstream, upstream)} ends {ends}"
    return f"{kind or 'Untyped'} trigger (Spinweb does not fire this type)"


def _webhook_text(trigger: Mapping[str, Any]) -> str:
    parts = [f"Webhook source {trigger.get('source', '')}"]
    constraints = trigger.get("payloadConstraints")
    if isinstance(constraints, dict) and constraints:
        parts.append(f"{len(constraints)} constraint{'s' if len(constraints) != 1 else ''}")
    if trigger.get("secret"):
        parts.append("signed")
    return ", ".join(parts)
