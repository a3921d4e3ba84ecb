"""Pipeline pages: the application's pipelines with a run form, and an execution with its actions.

Every action posts to one view that calls the matching function in ``pipelines.actions``.
"""

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
from pipelines.models import Execution, Pipeline, get_execution_for_user, get_pipeline_for_user
from pipelines.statuses import COMPLETED
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


def _execution(request: HttpRequest, name: str, execution_id: str, need: Any) -> Execution:
    execution = get_execution_for_user(request.user, execution_id, need)
    if execution.application.name != name:
        raise Http404("No execution found.")
    return execution


@login_required
@require_safe
def execution_detail(request: HttpRequest, name: str, execution_id: str) -> HttpResponse:
    execution = _execution(request, name, execution_id, "read")
    stages = _parents_first(list(execution.stages.order_by("position")))
    context = {
        "application": execution.application,
        "execution": execution,
        "stages": stages,
        "can_execute": Access.EXECUTE.value in execution.application.levels_for(request.user),
        "completed": COMPLETED,
        "ended": execution.status in COMPLETED,
    }
    return render(request, "pipelines/execution.html", context)


def _parents_first(stages: list[Any]) -> list[Any]:
    """Top-level stages in order, each followed by its synthetic children (depth first)."""
    children: dict[Any, list[Any]] = {}
    for stage in stages:
        children.setdefault(stage.parent_id, []).append(stage)
    ordered: list[Any] = []
    frontier = list(reversed(children.get(None, [])))
    while frontier:
        stage = frontier.pop()
        ordered.append(stage)
        frontier.extend(reversed(children.get(stage.pk, [])))
    return ordered


VERBS = {"pause", "resume", "cancel", "restart", "judge", "skip"}


@login_required
@require_POST
def execution_action(request: HttpRequest, name: str, execution_id: str, verb: str) -> HttpResponse:
    """One form target for every operator action; each calls its function in ``actions``."""
    if verb not in VERBS:
        raise Http404("No such action.")
    execution = _execution(request, name, execution_id, "execute")
    stage = request.POST.get("stage", "")
    try:
        if verb == "cancel":
            if request.POST.get("confirm") != "yes":
                messages.error(request, "Tick the box to confirm the cancel.")
                return redirect("pipelines:execution", name=name, execution_id=execution.pk)
            actions.cancel(request.user, execution, reason=request.POST.get("reason", ""), source=AuditSource.UI)
        elif verb in {"pause", "resume"}:
            getattr(actions, verb)(request.user, execution, source=AuditSource.UI)
        elif verb == "restart":
            actions.restart_stage(request.user, execution, stage, source=AuditSource.UI)
        elif verb == "judge":
            actions.judge(
                request.user,
                execution,
                stage,
                request.POST.get("judgment", ""),
                judgment_input=request.POST.get("input", ""),
                source=AuditSource.UI,
            )
        else:
            actions.skip_wait(request.user, execution, stage, source=AuditSource.UI)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Done: {verb}.")
    return redirect("pipelines:execution", name=name, execution_id=execution.pk)
