"""A pipeline's saved versions: who saved each and when, diffs between any two, restore, delete.

Versions are shown through ``pipeline_document``, the same masking as the editor, so a secret a
trigger held in an old version never reaches the page.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from applications.forms import ConfirmNameForm
from pipelines import actions
from pipelines.documents import pipeline_document, version_diff
from pipelines.editor_views import SERVER_KEYS, is_locked
from pipelines.models import Pipeline, PipelineVersion, get_pipeline_for_user
from spinweb.diffs import diff_lines
from spinweb.models import AuditSource
from spinweb.permissions import Access, Need


def _pipeline(request: HttpRequest, name: str, pipeline_id: Any, need: Need) -> Pipeline:
    pipeline = get_pipeline_for_user(request.user, pipeline_id, need)
    if pipeline.application.name != name:
        raise Http404("No pipeline found.")
    return pipeline


def shown(pipeline: Pipeline, config: dict[str, Any]) -> dict[str, Any]:
    """A version's JSON as the editor would show it: secrets masked, server keys left out."""
    as_saved = Pipeline(id=pipeline.pk, application=pipeline.application, name=pipeline.name, config=config)
    return {key: value for key, value in pipeline_document(as_saved).items() if key not in SERVER_KEYS}


@login_required
@require_safe
def pipeline_versions(request: HttpRequest, name: str, pipeline_id: Any) -> HttpResponse:
    pipeline = _pipeline(request, name, pipeline_id, "read")
    context = {
        "application": pipeline.application,
        "pipeline": pipeline,
        "versions": pipeline.versions.select_related("saved_by").order_by("-version"),
        "can_write": Access.WRITE.value in pipeline.application.levels_for(request.user),
        "locked": is_locked(pipeline.config),
    }
    return render(request, "pipelines/versions.html", context)


def _other_version(pipeline: Pipeline, version: int, against: str) -> int:
    if against == "current":
        return pipeline.version
    try:
        return int(against)
    except ValueError:
        return version - 1


@login_required
@require_safe
def pipeline_version_diff(request: HttpRequest, name: str, pipeline_id: Any, version: int) -> HttpResponse:
    """``version`` against ``?against=previous`` (the default), ``current`` or a version number."""
    pipeline = _pipeline(request, name, pipeline_id, "read")
    other = _other_version(pipeline, version, request.GET.get("against", "previous"))
    rows: dict[int, PipelineVersion] = {
        row.version: row for row in pipeline.versions.filter(version__in=[version, other])
    }
    for number in (version, other):
        if number not in rows and number != 0:  # 0: "previous" of the first version, shown as empty
            raise Http404(f"{pipeline.name} has no version {number}.")
    old, new = sorted({version, other})
    configs = {number: shown(pipeline, row.config) for number, row in rows.items()}
    text = version_diff(configs.get(old, {}), configs[new], f"version {old}", f"version {new}")
    context = {
        "application": pipeline.application,
        "pipeline": pipeline,
        "version": rows[version],
        "old": old if old in rows else None,
        "new": new,
        "lines": diff_lines(text),
        "can_write": Access.WRITE.value in pipeline.application.levels_for(request.user),
    }
    return render(request, "pipelines/version_diff.html", context)


@login_required
@require_POST
def pipeline_restore(request: HttpRequest, name: str, pipeline_id: Any, version: int) -> HttpResponse:
    pipeline = _pipeline(request, name, pipeline_id, "write")
    if request.POST.get("confirm") != "yes":
        messages.error(request, f"Tick the box to confirm restoring version {version}.")
    elif is_locked(pipeline.config):
        messages.error(request, "This pipeline is locked; unlock it through the API to change it.")
    else:
        try:
            restored = actions.restore_version(request.user, pipeline, version, source=AuditSource.UI)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"Restored version {version} as version {restored.version}.")
    return redirect("pipelines:versions", name=name, pipeline_id=pipeline.pk)


@login_required
@require_http_methods(["GET", "POST"])
def pipeline_delete(request: HttpRequest, name: str, pipeline_id: Any) -> HttpResponse:
    pipeline = _pipeline(request, name, pipeline_id, "write")
    form = ConfirmNameForm(request.POST or None, expected=pipeline.name)
    if request.method == "POST" and form.is_valid():
        try:
            actions.delete_pipeline(request.user, pipeline, source=AuditSource.UI)
        except ValidationError as exc:
            form.add_error(None, exc.messages)
        else:
            messages.success(request, f"Pipeline {pipeline.name} deleted.")
            return redirect("pipelines:list", name=name)
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "pipelines/delete.html",
        {"application": pipeline.application, "pipeline": pipeline, "form": form},
        status=status,
    )
