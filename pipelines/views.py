"""Execution pages: one run of a pipeline, with its operator actions.

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

from pipelines import actions
from pipelines.models import Execution, get_execution_for_user
from pipelines.statuses import COMPLETED
from spinweb.models import AuditSource
from spinweb.permissions import Access


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
