"""Pipeline pages: an application's pipelines with their recent runs and a run form."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe

from applications.models import get_application_for_user
from pipelines import actions
from pipelines.models import Execution, Pipeline, get_pipeline_for_user
from spinweb.models import AuditSource
from spinweb.permissions import Access

RECENT_RUNS = 5


@login_required
@require_safe
def pipeline_list(request: HttpRequest, name: str) -> HttpResponse:
    application = get_application_for_user(request.user, name, "read")
    pipelines = list(Pipeline.objects.filter(application=application).order_by("name"))
    recent: dict[Any, list[Execution]] = {pipeline.pk: [] for pipeline in pipelines}
    for execution in Execution.objects.filter(pipeline__in=pipelines).order_by("-created_at")[: 50 * RECENT_RUNS]:
        runs = recent[execution.pipeline_id]
        if len(runs) < RECENT_RUNS:
            runs.append(execution)
    rows = [{"pipeline": p, "runs": recent[p.pk], "parameters": p.config.get("parameterConfig", [])} for p in pipelines]
    context = {
        "application": application,
        "rows": rows,
        "can_execute": Access.EXECUTE.value in application.levels_for(request.user),
    }
    return render(request, "pipelines/list.html", context)


@login_required
@require_POST
def pipeline_run(request: HttpRequest, name: str, pipeline_id: str) -> HttpResponse:
    pipeline = get_pipeline_for_user(request.user, pipeline_id, "execute")
    if pipeline.application.name != name:
        raise Http404("No pipeline found.")
    parameters = {key.removeprefix("param-"): value for key, value in request.POST.items() if key.startswith("param-")}
    try:
        execution = actions.start_execution(request.user, pipeline, parameters=parameters, source=AuditSource.UI)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("pipelines:list", name=name)
    return redirect("pipelines:execution", name=name, execution_id=execution.pk)
