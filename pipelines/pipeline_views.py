"""Pipeline pages: an application's pipelines with their recent runs, triggers and a start form.

The list costs the same few queries however many pipelines, runs and stages it shows: the last
runs of every pipeline come in one windowed query, their top-level stages in one more.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import F, Prefetch, QuerySet, Window
from django.db.models.functions import RowNumber
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from applications.models import Application, get_application_for_user
from pipelines import actions
from pipelines.engine import clock
from pipelines.models import Execution, Pipeline, StageExecution, get_pipeline_for_user
from pipelines.statuses import ACTIVE
from pipelines.triggers.summary import TriggerSummary, names_for, trigger_summaries
from policies.dryrun import dry_run
from policies.types import PolicyDenied
from spinweb.models import AuditSource
from spinweb.permissions import Access, is_admin

RECENT_RUNS = 5


@dataclass
class ParameterField:
    """One input of the start form, with what the user typed and why it was refused."""

    name: str
    label: str
    description: str
    required: bool
    options: list[str]
    value: str
    error: str = ""


@dataclass
class PipelineRow:
    pipeline: Pipeline
    runs: list[Execution]
    triggers: list[TriggerSummary]
    parameters: list[ParameterField] = field(default_factory=list)

    @property
    def disabled(self) -> bool:
        return bool(self.pipeline.config.get("disabled"))


def top_stages() -> Prefetch[Any]:
    """Each execution's top-level stages in order, as ``top_stages``, in one query for them all."""
    stages = StageExecution.objects.filter(parent__isnull=True).only("execution_id", "name", "status", "position")
    return Prefetch("stages", queryset=stages.order_by("position"), to_attr="top_stages")


def recent_runs(application: Application) -> QuerySet[Execution]:
    """The last ``RECENT_RUNS`` runs of every pipeline of the application, newest first."""
    rank = Window(RowNumber(), partition_by=[F("pipeline_id")], order_by=[F("created_at").desc(), F("id").desc()])
    return (
        Execution.objects.filter(application=application, pipeline__isnull=False)
        .annotate(rank=rank)
        .filter(rank__lte=RECENT_RUNS)
        .order_by("-created_at", "-id")
        .prefetch_related(top_stages())
    )


def parameter_fields(
    config: Mapping[str, Any], typed: Mapping[str, str] | None = None, errors: Mapping[str, str] | None = None
) -> list[ParameterField]:
    """The start form's inputs: defaults filled in, or what the user typed when it was refused."""
    fields = []
    for item in config.get("parameterConfig") or []:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            continue
        name, default = item["name"], item.get("default")
        options = [str(option.get("value")) for option in item.get("options") or [] if isinstance(option, dict)]
        value = typed.get(name, "") if typed is not None else ("" if default is None else str(default))
        fields.append(
            ParameterField(
                name=name,
                label=str(item.get("label") or name),
                description=str(item.get("description") or ""),
                required=bool(item.get("required")),
                options=options if item.get("hasOptions") else [],
                value=value,
                error=(errors or {}).get(name, ""),
            )
        )
    return fields


def _rows(application: Application) -> list[PipelineRow]:
    pipelines = list(Pipeline.objects.filter(application=application).order_by("name"))
    runs: dict[Any, list[Execution]] = {pipeline.pk: [] for pipeline in pipelines}
    for execution in recent_runs(application):
        runs[execution.pipeline_id].append(execution)
    names, now = names_for([p.config for p in pipelines]), clock.now()
    return [
        PipelineRow(p, runs[p.pk], trigger_summaries(p.config, now, pipeline_names=names), parameter_fields(p.config))
        for p in pipelines
    ]


def _list_context(request: HttpRequest, application: Application) -> dict[str, Any]:
    rows = _rows(application)
    levels = application.levels_for(request.user)
    return {
        "application": application,
        "rows": rows,
        "active": any(run.status in ACTIVE for row in rows for run in row.runs),
        "can_execute": Access.EXECUTE.value in levels,
        "can_write": Access.WRITE.value in levels,
    }


@login_required
@require_safe
def pipeline_list(request: HttpRequest, name: str) -> HttpResponse:
    application = get_application_for_user(request.user, name, "read")
    return render(request, "pipelines/list.html", _list_context(request, application))


@login_required
@require_safe
def pipeline_rows(request: HttpRequest, name: str) -> HttpResponse:
    """The recent runs of every pipeline, swapped out of band so open start forms stay open."""
    application = get_application_for_user(request.user, name, "read")
    return render(request, "pipelines/_pipeline_rows.html", _list_context(request, application))


def _refusal(exc: ValidationError) -> tuple[dict[str, str], list[str]]:
    """Errors by parameter name, and the rest (a disabled pipeline, say)."""
    if not hasattr(exc, "error_dict"):
        return {}, list(exc.messages)
    by_parameter: dict[str, str] = {}
    general: list[str] = []
    for key, texts in exc.message_dict.items():
        if key.startswith("parameters."):
            by_parameter[key.removeprefix("parameters.")] = " ".join(texts)
        else:
            general.extend(texts)
    return by_parameter, general


@login_required
@require_POST
def pipeline_run(request: HttpRequest, name: str, pipeline_id: str) -> HttpResponse:
    pipeline = get_pipeline_for_user(request.user, pipeline_id, "execute")
    if pipeline.application.name != name:
        raise Http404("No pipeline found.")
    typed = {key.removeprefix("param-"): str(value) for key, value in request.POST.items() if key.startswith("param-")}
    try:
        execution = actions.start_execution(request.user, pipeline, parameters=typed, source=AuditSource.UI)
    except (ValidationError, PolicyDenied) as exc:
        refusal = ValidationError(str(exc)) if isinstance(exc, PolicyDenied) else exc
        if not request.headers.get("HX-Request"):
            messages.error(request, " ".join(refusal.messages))
            return redirect("pipelines:list", name=name)
        by_parameter, general = _refusal(refusal)
        context = {
            "application": pipeline.application,
            "pipeline": pipeline,
            "parameters": parameter_fields(pipeline.config, typed, by_parameter),
            "errors": general,
        }
        # 200, not 4xx: htmx swaps only successful answers, and the form must come back.
        return render(request, "pipelines/_start_form.html", context)
    if request.headers.get("HX-Request"):
        response = HttpResponse()
        response["HX-Redirect"] = reverse("pipelines:execution", kwargs={"name": name, "execution_id": execution.pk})
        return response
    return redirect("pipelines:execution", name=name, execution_id=execution.pk)


@login_required
@require_http_methods(["GET", "POST"])
def pipeline_dryrun(request: HttpRequest, name: str, pipeline_id: str) -> HttpResponse:
    """Every policy decision a run would meet, for the parameters typed; READ, admins may pick a user."""
    pipeline = get_pipeline_for_user(request.user, pipeline_id, "read")
    if pipeline.application.name != name:
        raise Http404("No pipeline found.")
    typed = {key.removeprefix("param-"): str(value) for key, value in request.POST.items() if key.startswith("param-")}
    context: dict[str, Any] = {"application": pipeline.application, "pipeline": pipeline, "errors": []}
    context["can_simulate"] = is_admin(request.user)
    context["simulate"] = request.POST.get("user", "").strip()
    by_parameter: dict[str, str] = {}
    if request.method == "POST":
        try:
            user = _dryrun_user(request, context["simulate"])
            context["report"] = report = dry_run(pipeline, parameters=typed, user=user, acting=request.user)
            context["execution"] = report.to_dict()["execution"]
        except ValidationError as exc:
            by_parameter, context["errors"] = _refusal(exc)
    context["parameters"] = parameter_fields(pipeline.config, typed if request.method == "POST" else None, by_parameter)
    return render(request, "pipelines/dryrun.html", context)


def _dryrun_user(request: HttpRequest, username: str) -> Any:
    if not username or username == request.user.get_username():
        return request.user
    if not is_admin(request.user):
        raise PermissionDenied("Only administrators may simulate another user.")
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise ValidationError({"user": f"There is no user named {username!r}."})
    return user
