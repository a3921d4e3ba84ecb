"""An application's executions, newest first, filtered and paged by keyset.

Pages follow a cursor on ``(created_at, id)`` rather than an offset, so the 200th page costs
the same three queries as the first however many runs the application has.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from django import forms
from django.contrib.auth.decorators import login_required
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_safe

from applications.models import Application, get_application_for_user
from pipelines.models import Execution, Pipeline
from pipelines.pipeline_views import top_stages
from pipelines.statuses import Status

PAGE_SIZE = 50
TRIGGER_TYPES = ["manual", "cron", "webhook", "git", "pipeline"]
PRESETS = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(weeks=1)}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class ExecutionFilterForm(forms.Form):
    pipeline = forms.ChoiceField(required=False)
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *Status.choices])
    trigger = forms.ChoiceField(
        required=False, label="Trigger type", choices=[("", "Any trigger"), *[(t, t) for t in TRIGGER_TYPES]]
    )
    within = forms.ChoiceField(
        required=False,
        label="Triggered within",
        choices=[("", "Any time"), ("hour", "Last hour"), ("day", "Last day"), ("week", "Last week")],
    )
    after = forms.DateTimeField(required=False, label="Triggered after")
    before = forms.DateTimeField(required=False, label="Triggered before")

    def __init__(self, data: QueryDict, *, pipelines: list[Pipeline]) -> None:
        super().__init__(data)
        choices = [("", "Any pipeline"), *[(str(p.pk), p.name) for p in pipelines]]
        cast(forms.ChoiceField, self.fields["pipeline"]).choices = choices

    def apply(self, runs: QuerySet[Execution]) -> QuerySet[Execution]:
        """The runs matching every valid filter; an invalid one is reported and left out."""
        self.is_valid()  # fills cleaned_data with the fields that are valid
        data = self.cleaned_data
        for key, lookup in (("pipeline", "pipeline_id"), ("status", "status"), ("trigger", "trigger_type")):
            if data.get(key):
                runs = runs.filter(**{lookup: data[key]})
        if data.get("within"):
            runs = runs.filter(created_at__gte=timezone.now() - PRESETS[data["within"]])
        if data.get("after"):
            runs = runs.filter(created_at__gte=data["after"])
        if data.get("before"):
            runs = runs.filter(created_at__lt=data["before"])
        return runs


def encode_cursor(execution: Execution) -> str:
    micros = (execution.created_at - EPOCH) // timedelta(microseconds=1)
    return f"{micros}_{execution.pk.hex}"


def decode_cursor(raw: str) -> tuple[datetime, uuid.UUID] | None:
    micros, _, pk = raw.partition("_")
    try:
        return EPOCH + timedelta(microseconds=int(micros)), uuid.UUID(pk)
    except (ValueError, OverflowError):
        return None


@dataclass
class Page:
    runs: list[Execution]
    older: str | None
    newer: str | None


def page_of(runs: QuerySet[Execution], older: str, newer: str) -> Page:
    """One page after the ``older`` cursor, or before the ``newer`` one; else the newest page."""
    newer_cursor = decode_cursor(newer) if newer else None
    if newer_cursor is not None:
        moment, pk = newer_cursor
        rows = list(
            runs.filter(Q(created_at__gt=moment) | Q(created_at=moment, id__gt=pk)).order_by("created_at", "id")[
                : PAGE_SIZE + 1
            ]
        )
        if len(rows) > PAGE_SIZE:
            rows = rows[:PAGE_SIZE][::-1]
            return Page(rows, encode_cursor(rows[-1]), encode_cursor(rows[0]))
        older = ""  # fewer than a page above the cursor: that is the newest page
    older_cursor = decode_cursor(older) if older else None
    if older_cursor is not None:
        moment, pk = older_cursor
        runs = runs.filter(Q(created_at__lt=moment) | Q(created_at=moment, id__lt=pk))
    rows = list(runs.order_by("-created_at", "-id")[: PAGE_SIZE + 1])
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return Page(
        rows,
        encode_cursor(rows[-1]) if more else None,
        encode_cursor(rows[0]) if older_cursor is not None and rows else None,
    )


@dataclass
class ExecutionRow:
    execution: Execution
    duration: str


def duration(execution: Execution, now: datetime) -> str:
    if execution.started_at is None:
        return ""
    seconds = int(((execution.ended_at or now) - execution.started_at).total_seconds())
    hours, rest = divmod(max(seconds, 0), 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {seconds:02d}s" if minutes else f"{seconds}s"


def _link(request: HttpRequest, **cursor: str) -> str:
    params = request.GET.copy()
    for key in ("older", "newer"):
        params.pop(key, None)
    params.update(cursor)
    return f"{request.path}?{params.urlencode()}"


def _context(request: HttpRequest, application: Application) -> dict[str, Any]:
    pipelines = list(Pipeline.objects.filter(application=application).order_by("name").only("id", "name"))
    form = ExecutionFilterForm(request.GET, pipelines=pipelines)
    runs = form.apply(Execution.objects.filter(application=application)).prefetch_related(top_stages())
    page = page_of(runs, request.GET.get("older", ""), request.GET.get("newer", ""))
    now = timezone.now()
    return {
        "application": application,
        "form": form,
        "rows": [ExecutionRow(run, duration(run, now)) for run in page.runs],
        "older_link": _link(request, older=page.older) if page.older else None,
        "newer_link": _link(request, newer=page.newer) if page.newer else None,
        "newest_link": _link(request) if page.newer else None,
        "filtered": any(request.GET.get(key) for key in form.fields),
    }


@login_required
@require_safe
def execution_list(request: HttpRequest, name: str) -> HttpResponse:
    application = get_application_for_user(request.user, name, "read")
    template = "pipelines/_executions_table.html" if request.headers.get("HX-Request") else "pipelines/executions.html"
    return render(request, template, _context(request, application))
