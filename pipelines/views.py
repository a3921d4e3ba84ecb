"""Execution pages: one run of a pipeline, live, with its stage graph and operator actions.

The page polls one fragment (``execution_live``) while the run is active. The fragment carries a
version of the run's state: an unchanged state answers 204, so nothing is swapped, and the
operator's forms are ``hx-preserve``d across swaps, so polling never wipes a half-typed reason or
a chosen input. A run that ended answers a fragment without the poll trigger, which stops it.

Every action posts to one view that calls the matching function in ``pipelines.actions``: htmx
gets the fragment back with the outcome beside the buttons, a plain form a redirect.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from pipelines import actions
from pipelines.graph_layout import format_duration, layout_execution
from pipelines.models import Execution, StageExecution, TaskExecution, get_execution_for_user, is_uuid
from pipelines.statuses import COMPLETED, Status
from spinweb.models import AuditSource
from spinweb.permissions import Access, Need, group_ids, is_admin

if TYPE_CHECKING:
    from spinweb.permissions import AnyUser

POLL_SECONDS: Final = 2
# A running stage's duration grows without its row changing: the version moves this often.
DURATION_TICK_SECONDS: Final = 10
WAITING_TYPES: Final = frozenset({"wait", "restrictExecutionDuringTimeWindow"})
BUSY: Final = frozenset({Status.RUNNING, Status.PAUSED})
SECRET_LOOKING: Final = re.compile(r"passw|secret|token|credential|private.?key|api.?key", re.IGNORECASE)
HIDDEN: Final = "********"
# The fields of a stage and a task that the page shows, so a change to one redraws it.
STAGE_SHOWN: Final = (
    "pk",
    "status",
    "started_at",
    "ended_at",
    "context",
    "outputs",
    "expression_failures",
    "failure_message",
    "restart_details",
)
TASK_SHOWN: Final = ("pk", "status", "attempts", "message", "started_at", "ended_at")
VERBS: Final = {"pause", "resume", "cancel", "restart", "judge", "skip"}
DONE: Final = {
    "pause": "Paused.",
    "resume": "Resumed.",
    "cancel": "Canceled.",
    "restart": "Restarted.",
    "judge": "Judgment recorded.",
    "skip": "Skipped the wait.",
}


@dataclass
class RunState:
    """An execution with every stage and task row, read in a fixed number of queries."""

    execution: Execution
    stages: list[StageExecution]
    tasks: dict[Any, list[TaskExecution]]
    now: datetime

    @classmethod
    def load(cls, execution: Execution) -> RunState:
        stages = list(execution.stages.order_by("position"))
        tasks: dict[Any, list[TaskExecution]] = {}
        for task in TaskExecution.objects.filter(stage__execution=execution).order_by("stage_id", "position"):
            tasks.setdefault(task.stage_id, []).append(task)
        return cls(execution, stages, tasks, timezone.now())

    @property
    def tops(self) -> list[StageExecution]:
        return [stage for stage in self.stages if stage.parent_id is None]

    def version(self) -> str:
        """Changes whenever anything the fragment shows changes (durations: every tick)."""
        run = self.execution
        parts: list[Any] = [run.status, run.started_at, run.ended_at, run.canceled, run.paused_at]
        parts += [[getattr(stage, name) for name in STAGE_SHOWN] for stage in self.stages]
        parts += [[getattr(task, name) for name in TASK_SHOWN] for rows in self.tasks.values() for task in rows]
        if run.status == Status.RUNNING:
            parts.append(int(self.now.timestamp()) // DURATION_TICK_SECONDS)
        return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:16]


# Views --------------------------------------------------------------------------------------


def _execution(request: HttpRequest, name: str, execution_id: Any, need: Need) -> Execution:
    execution = get_execution_for_user(request.user, execution_id, need)
    if execution.application.name != name:
        raise Http404("No execution found.")
    return execution


@login_required
@require_safe
def execution_detail(request: HttpRequest, name: str, execution_id: uuid.UUID) -> HttpResponse:
    execution = _execution(request, name, execution_id, "read")
    context = live_context(request.user, execution, request.GET.get("selected", ""))
    context.update(_static_context(execution))
    return render(request, "pipelines/execution.html", context)


@login_required
@require_safe
def execution_live(request: HttpRequest, name: str, execution_id: uuid.UUID) -> HttpResponse:
    """The live part; 204 when the caller's ``version`` is still current (nothing to swap)."""
    execution = _execution(request, name, execution_id, "read")
    context = live_context(request.user, execution, request.GET.get("selected", ""))
    if request.GET.get("version") == context["version"]:
        return HttpResponse(status=204)
    return render(request, "pipelines/_execution_live.html", context)


@login_required
@require_safe
def stage_detail(request: HttpRequest, name: str, execution_id: uuid.UUID, stage_id: uuid.UUID) -> HttpResponse:
    execution = _execution(request, name, execution_id, "read")
    context = live_context(request.user, execution, str(stage_id))
    if context["panel"] is None:
        raise Http404("No stage found.")
    return render(request, "pipelines/_stage_detail.html", context)


@login_required
@require_POST
def execution_action(request: HttpRequest, name: str, execution_id: uuid.UUID, verb: str) -> HttpResponse:
    """One form target for every operator action; each calls its function in ``actions``."""
    if verb not in VERBS:
        raise Http404("No such action.")
    execution = _execution(request, name, execution_id, "execute")
    try:
        _act(request, execution, verb)
    except (ValidationError, PermissionDenied) as exc:
        outcome, failed = _reason(exc), True
    else:
        outcome, failed = DONE[verb], False
    if request.headers.get("HX-Request") != "true":
        (messages.error if failed else messages.success)(request, outcome)
        return redirect("pipelines:execution", name=name, execution_id=execution.pk)
    fresh = Execution.objects.select_related("application").get(pk=execution.pk)
    context = live_context(request.user, fresh, request.POST.get("selected", ""))
    context.update(action_message=outcome, action_failed=failed, action_verb=verb)
    return render(request, "pipelines/_execution_live.html", context)


def _act(request: HttpRequest, execution: Execution, verb: str) -> None:
    form, user, ui = request.POST, request.user, AuditSource.UI
    if verb == "cancel":
        if form.get("confirm") != "yes":
            raise ValidationError("Tick the box to confirm the cancel.")
        actions.cancel(user, execution, reason=form.get("reason", ""), source=ui)
    elif verb in {"pause", "resume"}:
        getattr(actions, verb)(user, execution, source=ui)
    elif verb == "restart":
        actions.restart_stage(user, execution, form.get("stage", ""), source=ui)
    elif verb == "judge":
        decision, choice = form.get("judgment", ""), form.get("input", "")
        actions.judge(user, execution, form.get("stage", ""), decision, judgment_input=choice, source=ui)
    else:
        actions.skip_wait(user, execution, form.get("stage", ""), source=ui)


def _reason(exc: ValidationError | PermissionDenied) -> str:
    return " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)


# What the templates show --------------------------------------------------------------------


def live_context(user: AnyUser, execution: Execution, selected: str) -> dict[str, Any]:
    """Everything the live fragment shows: status, graph, actions, the selected stage's panel."""
    state = RunState.load(execution)
    can_execute = Access.EXECUTE.value in execution.application.levels_for(user)
    kwargs = {"name": execution.application.name, "execution_id": execution.pk}
    return {
        "application": execution.application,
        "execution": execution,
        "duration": _duration(execution.started_at, execution.ended_at, state.now),
        "graph": layout_execution(state.stages, now=state.now),
        "stage_url_base": reverse("pipelines:execution", kwargs=kwargs) + "stages/",
        "live_url": reverse("pipelines:execution_live", kwargs=kwargs),
        "version": state.version(),
        "polling": execution.status not in COMPLETED,
        "poll_seconds": POLL_SECONDS,
        "can_execute": can_execute,
        "actions": _actions(user, state) if can_execute else {},
        "panel": _panel(state, selected, can_execute),
    }


def _static_context(execution: Execution) -> dict[str, Any]:
    """What does not change while the run goes on: its trigger and parameters."""
    trigger = execution.trigger if isinstance(execution.trigger, dict) else {}
    return {
        "trigger_type": trigger.get("type", execution.trigger_type),
        "trigger_user": trigger.get("user", ""),
        "parent_url": _parent_url(trigger),
        "parameters": _masked(execution.parameters),
        "trigger_json": _json(_masked(trigger)),
    }


def _actions(user: AnyUser, state: RunState) -> dict[str, Any]:
    """The operator actions that apply now (the user holds EXECUTE)."""
    status = state.execution.status
    running = [stage for stage in state.stages if stage.status == Status.RUNNING]
    judgments = [stage for stage in running if stage.type == "manualJudgment"]
    return {
        "pause": status == Status.RUNNING,
        "resume": status == Status.PAUSED,
        "cancel": status not in COMPLETED,
        "judgments": [_judgment(stage) for stage in _may_judge(user, judgments)],
        "skips": [stage for stage in running if stage.type in WAITING_TYPES] if status == Status.RUNNING else [],
    }


def _may_judge(user: AnyUser, stages: list[StageExecution]) -> list[StageExecution]:
    """Judgments the user may decide: limited ones (``selectedStageRoles``) only by those groups."""
    limited = [stage for stage in stages if stage.context.get("selectedStageRoles")]
    if not limited or is_admin(user):
        return stages
    mine = set(Group.objects.filter(pk__in=group_ids(user)).values_list("name", flat=True))
    return [stage for stage in stages if not _roles(stage) or _roles(stage) & mine]


def _roles(stage: StageExecution) -> set[str]:
    return {str(role) for role in stage.context.get("selectedStageRoles") or []}


def _judgment(stage: StageExecution) -> dict[str, Any]:
    inputs = stage.context.get("judgmentInputs") or []
    return {
        "stage": stage,
        "instructions": stage.context.get("instructions", ""),
        "inputs": [str(item.get("value")) for item in inputs if isinstance(item, dict)],
    }


def _panel(state: RunState, selected: str, can_execute: bool) -> dict[str, Any] | None:
    stage = next((row for row in state.stages if str(row.pk) == selected), None)
    if stage is None:
        return None
    parent = next((row for row in state.stages if row.pk == stage.parent_id), None)
    return {
        "stage": stage,
        "parent": parent,
        "duration": _duration(stage.started_at, stage.ended_at, state.now),
        "tasks": [
            {"task": task, "duration": _duration(task.started_at, task.ended_at, state.now)}
            for task in state.tasks.get(stage.pk, [])
        ],
        "context": _json(_masked(stage.context)),
        "outputs": _json(_masked(stage.outputs)) if stage.outputs else "",
        "restart_details": _masked(stage.restart_details) if isinstance(stage.restart_details, dict) else None,
        "child_url": _child_url(stage),
        "restartable": can_execute and _restartable(state, stage),
    }


def _restartable(state: RunState, stage: StageExecution) -> bool:
    """As ``actions.restart_stage`` allows: an ended top-level stage with nothing busy downstream."""
    if stage.parent_id is not None or stage.status not in COMPLETED or state.execution.status == Status.PAUSED:
        return False
    tops = state.tops
    downstream, frontier = {stage.ref_id}, [stage.ref_id]
    while frontier:
        ref = frontier.pop()
        for row in tops:
            if ref in row.requisite_ref_ids and row.ref_id not in downstream:
                downstream.add(row.ref_id)
                frontier.append(row.ref_id)
    return not any(row.status in BUSY for row in tops if row.ref_id in downstream)


def _child_url(stage: StageExecution) -> str:
    """A ``pipeline`` stage's link to the run it started."""
    if stage.type != "pipeline":
        return ""
    return _execution_url(stage.context.get("application"), stage.context.get("executionId"))


def _parent_url(trigger: dict[str, Any]) -> str:
    """A run started by a ``pipeline`` stage links back to the run that started it."""
    parent = trigger.get("parentExecution")
    if trigger.get("type") != "pipeline" or not isinstance(parent, dict):
        return ""
    application = parent.get("application") or trigger.get("parentPipelineApplication")
    return _execution_url(application, parent.get("id"))


def _execution_url(application: Any, execution_id: Any) -> str:
    if not isinstance(application, str) or not application or not is_uuid(execution_id):
        return ""
    try:
        return reverse("pipelines:execution", kwargs={"name": application, "execution_id": execution_id})
    except NoReverseMatch:
        return ""


def _duration(started: datetime | None, ended: datetime | None, now: datetime) -> str:
    return format_duration(((ended or now) - started).total_seconds()) if started else ""


def _masked(value: Any) -> Any:
    """The value with whatever sits under a secret-looking key replaced."""
    if isinstance(value, dict):
        return {key: HIDDEN if SECRET_LOOKING.search(str(key)) else _masked(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_masked(item) for item in value]
    return value


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)
