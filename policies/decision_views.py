"""The decision log (admins only): every decision, filtered, paged by keyset, and one in detail.

Pages follow a cursor on ``(created_at, id)``, never an offset, so any page costs one query
for its rows; the stored input is read only on the detail page.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_safe

from policies.forms import DecisionFilterForm
from policies.models import PolicyDecision
from policies.views import admin_only

PAGE_SIZE = 50
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
LIST_FIELDS = (
    "id",
    "created_at",
    "hook",
    "package",
    "allowed",
    "result",
    "messages",
    "error",
    "username",
    "application",
    "execution_id",
    "subject",
    "dry_run",
    "failed_open",
)


def apply_filters(decisions: QuerySet[PolicyDecision], data: dict[str, Any]) -> QuerySet[PolicyDecision]:
    """The decisions matching every given filter (``data`` as the filter form cleans it)."""
    exact = {"hook": "hook", "result": "result", "user": "username", "application": "application"}
    for key, lookup in exact.items():
        if data.get(key):
            decisions = decisions.filter(**{lookup: data[key]})
    if data.get("package"):
        decisions = decisions.filter(package__icontains=data["package"])
    if data.get("execution"):
        decisions = decisions.filter(execution_id=data["execution"])
    if data.get("since"):
        decisions = decisions.filter(created_at__gte=data["since"])
    if data.get("until"):
        decisions = decisions.filter(created_at__lt=data["until"])
    dry_runs = data.get("dry_runs") or "hide"
    if dry_runs != "show":
        decisions = decisions.filter(dry_run=dry_runs == "only")
    return decisions


def encode_cursor(row: PolicyDecision) -> str:
    return f"{(row.created_at - EPOCH) // timedelta(microseconds=1)}_{row.pk}"


def decode_cursor(raw: str) -> tuple[datetime, int] | None:
    micros, _, pk = raw.partition("_")
    try:
        return EPOCH + timedelta(microseconds=int(micros)), int(pk)
    except (ValueError, OverflowError):
        return None


@dataclass
class Page:
    rows: list[PolicyDecision]
    older: str | None
    newer: str | None


def page_of(decisions: QuerySet[PolicyDecision], older: str, newer: str) -> Page:
    """One page after the ``older`` cursor, or before the ``newer`` one; else the newest page."""
    newer_cursor = decode_cursor(newer) if newer else None
    if newer_cursor is not None:
        moment, pk = newer_cursor
        above = decisions.filter(Q(created_at__gt=moment) | Q(created_at=moment, id__gt=pk))
        rows = list(above.order_by("created_at", "id")[: PAGE_SIZE + 1])
        if len(rows) > PAGE_SIZE:
            rows = rows[:PAGE_SIZE][::-1]
            return Page(rows, encode_cursor(rows[-1]), encode_cursor(rows[0]))
        older = ""  # less than a page above the cursor: that is the newest page
    older_cursor = decode_cursor(older) if older else None
    if older_cursor is not None:
        moment, pk = older_cursor
        decisions = decisions.filter(Q(created_at__lt=moment) | Q(created_at=moment, id__lt=pk))
    rows = list(decisions.order_by("-created_at", "-id")[: PAGE_SIZE + 1])
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    newer_link = encode_cursor(rows[0]) if older_cursor is not None and rows else None
    return Page(rows, encode_cursor(rows[-1]) if more else None, newer_link)


def _link(request: HttpRequest, **cursor: str) -> str:
    params = request.GET.copy()
    for key in ("older", "newer"):
        params.pop(key, None)
    params.update(cursor)
    return f"{request.path}?{params.urlencode()}"


@admin_only
@require_safe
def decision_list(request: HttpRequest) -> HttpResponse:
    form = DecisionFilterForm(request.GET)
    form.is_valid()  # an invalid filter is reported beside its field and left out
    decisions = apply_filters(PolicyDecision.objects.only(*LIST_FIELDS), form.cleaned_data)
    page = page_of(decisions, request.GET.get("older", ""), request.GET.get("newer", ""))
    context = {
        "form": form,
        "rows": page.rows,
        "older_link": _link(request, older=page.older) if page.older else None,
        "newer_link": _link(request, newer=page.newer) if page.newer else None,
        "newest_link": _link(request) if page.newer else None,
        "filtered": any(request.GET.get(key) for key in form.fields if key != "dry_runs"),
    }
    template = "policies/_decisions_table.html" if request.headers.get("HX-Request") else "policies/decisions.html"
    return render(request, template, context)


@admin_only
@require_safe
def decision_detail(request: HttpRequest, decision_id: int) -> HttpResponse:
    decision = get_object_or_404(PolicyDecision.objects.select_related("input"), pk=decision_id)
    document = json.dumps(decision.input.document, indent=2, sort_keys=True, ensure_ascii=False)
    return render(request, "policies/decision.html", {"decision": decision, "document": document})
