"""The triggers page of an application: each pipeline's triggers, and what recent events did."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_safe

from applications.models import get_application_for_user
from pipelines.engine import clock
from pipelines.models import Pipeline, TriggerEvaluation
from pipelines.triggers.summary import TriggerSummary, names_for, trigger_summaries

EVALUATIONS_PER_PAGE = 50


@dataclass
class TriggerRow:
    summary: TriggerSummary
    url: str
    """Where a webhook or git trigger's sender posts; empty for other types."""


@login_required
@require_safe
def trigger_page(request: HttpRequest, name: str) -> HttpResponse:
    application = get_application_for_user(request.user, name, "read")
    pipelines = list(Pipeline.objects.filter(application=application).order_by("name"))
    names, now = names_for([p.config for p in pipelines]), clock.now()
    rows = [(p, _rows(request, p.config, trigger_summaries(p.config, now, pipeline_names=names))) for p in pipelines]
    evaluations = (
        TriggerEvaluation.objects.filter(application=application).select_related("event").order_by("-created_at", "-id")
    )
    context = {
        "application": application,
        "pipelines": rows,
        "page": Paginator(evaluations, EVALUATIONS_PER_PAGE).get_page(request.GET.get("page")),
    }
    return render(request, "pipelines/triggers.html", context)


def _rows(request: HttpRequest, config: dict[str, Any], summaries: list[TriggerSummary]) -> list[TriggerRow]:
    triggers = [t for t in config.get("triggers") or [] if isinstance(t, dict)]
    return [TriggerRow(s, _hook_url(request, t)) for t, s in zip(triggers, summaries, strict=True)]


def _hook_url(request: HttpRequest, trigger: dict[str, Any]) -> str:
    source = trigger.get("source")
    if not isinstance(source, str) or not source:
        return ""
    if trigger.get("type") == "webhook":
        return request.build_absolute_uri(reverse("api:webhook", kwargs={"source": source}))
    if trigger.get("type") == "git":
        return request.build_absolute_uri(reverse("api:git-webhook", kwargs={"provider": source}))
    return ""
