"""The pipeline editor: the JSON in a textarea, checked as it is typed, saved as a new version.

Each problem is shown at the line of its JSON path, and the graph preview follows the text as
long as it parses. Saving goes through ``actions.save_pipeline``; the text is what the user sees
of ``pipeline_document`` (secrets masked), and that is what comes back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from applications.models import Application, get_application_for_user
from pipelines import actions
from pipelines.documents import pipeline_document
from pipelines.graph_layout import layout_pipeline
from pipelines.json_positions import line_of, path_lines
from pipelines.models import Pipeline, get_pipeline_for_user
from pipelines.validation import MAX_DOCUMENT_BYTES, Issue
from spinweb.models import AuditSource
from spinweb.permissions import Access, Need

if TYPE_CHECKING:
    from spinweb.permissions import AnyUser

HEAD_KEYS = ("id", "application", "name")
# Shown for information, decided by the server: never saved from the text.
SERVER_KEYS = ("version", "updateTs")
# Indentation makes the text larger than the compact JSON that the 1 MB limit counts.
MAX_TEXT_BYTES = 2 * MAX_DOCUMENT_BYTES


@dataclass(frozen=True)
class EditorIssue:
    line: int
    path: str
    message: str


@dataclass
class Checked:
    """The text as parsed (None when it is not a JSON object) and every problem found in it."""

    text: str
    document: dict[str, Any] | None
    issues: list[EditorIssue] = field(default_factory=list)

    @property
    def gutter(self) -> list[tuple[int, str]]:
        """One (line, problems on that line) per line of the text."""
        notes: dict[int, list[str]] = {}
        for issue in self.issues:
            notes.setdefault(issue.line, []).append(f"{issue.path}: {issue.message}" if issue.path else issue.message)
        return [(number, " ".join(notes.get(number, []))) for number in range(1, self.text.count("\n") + 2)]


def pretty(document: dict[str, Any]) -> str:
    head = {key: document[key] for key in HEAD_KEYS if key in document}
    return json.dumps(head | document, indent=2, ensure_ascii=False)


def is_locked(config: dict[str, Any]) -> bool:
    """Spinnaker's ``locked`` (``{"ui": true, "description": …}``); ``{"ui": false}`` unlocks."""
    locked = config.get("locked")
    if isinstance(locked, dict):
        return bool(locked.get("ui", True))
    return bool(locked)


def check_text(text: str, application: Application, pipeline: Pipeline | None, user: AnyUser) -> Checked:
    """Parse and validate the editor's text as a pipeline of ``application`` (``pipeline`` when editing)."""
    size = len(text.encode())
    if size > MAX_TEXT_BYTES:  # validation then holds the compact JSON to MAX_DOCUMENT_BYTES
        return Checked(text, None, [EditorIssue(1, "", f"The text is {size} bytes; the editor takes up to 2 MB.")])
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as exc:
        return Checked(text, None, [EditorIssue(exc.lineno, "", f"Line {exc.lineno}, column {exc.colno}: {exc.msg}.")])
    except RecursionError:
        return Checked(text, None, [EditorIssue(1, "", "The JSON is nested too deeply.")])
    if not isinstance(parsed, dict):
        return Checked(text, None, [EditorIssue(1, "", "The pipeline must be a JSON object.")])
    document, issues = _bind(parsed, application, pipeline)
    issues += actions.validate(document, user)
    return located(text, document, issues)


def located(text: str, document: dict[str, Any] | None, issues: list[Issue]) -> Checked:
    lines = path_lines(text)
    placed = [EditorIssue(line_of(issue.path, lines), issue.path, issue.message) for issue in issues]
    return Checked(text, document, sorted(placed, key=lambda issue: issue.line))


def _bind(
    parsed: dict[str, Any], application: Application, pipeline: Pipeline | None
) -> tuple[dict[str, Any], list[Issue]]:
    """The document as it will be saved: in this application, under this pipeline's id."""
    issues: list[Issue] = []
    document = {key: value for key, value in parsed.items() if key not in SERVER_KEYS}
    if document.get("application", application.name) != application.name:
        issues.append(Issue("application", f"This page saves pipelines of {application.name}; keep it."))
    document["application"] = application.name
    if pipeline is None:
        document.pop("id", None)  # a pasted document must not overwrite the pipeline it came from
    elif str(document.get("id", pipeline.pk)) != str(pipeline.pk):
        issues.append(Issue("id", f"The id of this pipeline is {pipeline.pk}; keep it."))
    else:
        document["id"] = str(pipeline.pk)
    name = document.get("name")
    if isinstance(name, str) and _taken(application, name, pipeline):
        issues.append(Issue("name", f"{application.name} already has a pipeline named {name!r}."))
    return document, issues


def _taken(application: Application, name: str, pipeline: Pipeline | None) -> bool:
    """Another pipeline has the name: saving would then overwrite it, or break on the unique name."""
    others = Pipeline.objects.filter(application=application, name=name)
    if pipeline is not None:
        others = others.exclude(pk=pipeline.pk)
    return others.exists()


def _target(request: HttpRequest, name: str, pipeline_id: Any, need: Need) -> tuple[Application, Pipeline | None]:
    if pipeline_id is None:
        return get_application_for_user(request.user, name, need), None
    pipeline = get_pipeline_for_user(request.user, pipeline_id, need)
    if pipeline.application.name != name:
        raise Http404("No pipeline found.")
    return pipeline.application, pipeline


def _graph(checked: Checked) -> Any:
    return layout_pipeline(checked.document) if checked.document is not None else None


def _urls(application: Application, pipeline: Pipeline | None) -> dict[str, str]:
    if pipeline is None:
        return {
            "save_url": reverse("pipelines:new", kwargs={"name": application.name}),
            "validate_url": reverse("pipelines:validate_new", kwargs={"name": application.name}),
        }
    kwargs = {"name": application.name, "pipeline_id": pipeline.pk}
    return {
        "save_url": reverse("pipelines:edit", kwargs=kwargs),
        "validate_url": reverse("pipelines:validate", kwargs=kwargs),
    }


def _render_editor(
    request: HttpRequest,
    application: Application,
    pipeline: Pipeline | None,
    checked: Checked,
    *,
    saved: int | None = None,
    status: int = 200,
) -> HttpResponse:
    locked = pipeline is not None and is_locked(pipeline.config)
    can_write = Access.WRITE.value in application.levels_for(request.user)
    context = {
        "application": application,
        "pipeline": pipeline,
        "checked": checked,
        "graph": _graph(checked),
        "locked": locked,
        "can_write": can_write,
        "read_only": locked or not can_write,
        "saved": saved,
        **_urls(application, pipeline),
    }
    if request.headers.get("HX-Request"):
        # htmx swaps only 2xx answers; the form must come back with its problems.
        return render(request, "pipelines/_editor_form.html", context | {"oob_graph": True})
    return render(request, "pipelines/editor.html", context, status=status)


def _blank(application: Application) -> dict[str, Any]:
    return {"application": application.name, "name": "", "stages": [], "triggers": [], "parameterConfig": []}


@login_required
@require_http_methods(["GET", "POST"])
def pipeline_editor(request: HttpRequest, name: str, pipeline_id: Any = None) -> HttpResponse:
    """Readers see the JSON read-only; WRITE saves it (``/new/`` needs WRITE to open at all)."""
    if request.method == "POST":
        return _save(request, name, pipeline_id)
    application, pipeline = _target(request, name, pipeline_id, "read" if pipeline_id else "write")
    document = pipeline_document(pipeline) if pipeline is not None else _blank(application)
    text = pretty(document)
    checked = check_text(text, application, pipeline, request.user) if pipeline else Checked(text, document)
    return _render_editor(request, application, pipeline, checked)


def _save(request: HttpRequest, name: str, pipeline_id: Any) -> HttpResponse:
    application, pipeline = _target(request, name, pipeline_id, "write")
    text = request.POST.get("document", "")
    if pipeline is not None and is_locked(pipeline.config):
        refusal = EditorIssue(1, "locked", "This pipeline is locked; unlock it through the API to change it.")
        return _render_editor(request, application, pipeline, Checked(text, None, [refusal]), status=409)
    checked = check_text(text, application, pipeline, request.user)
    if checked.issues or checked.document is None:
        return _render_editor(request, application, pipeline, checked, status=400)
    try:
        saved = actions.save_pipeline(request.user, checked.document, source=AuditSource.UI)
    except actions.PipelineInvalid as exc:
        return _render_editor(request, application, pipeline, located(text, checked.document, exc.issues), status=400)
    if pipeline is None or not request.headers.get("HX-Request"):
        messages.success(request, f"Saved version {saved.version}.")
        url = reverse("pipelines:edit", kwargs={"name": application.name, "pipeline_id": saved.pk})
        if request.headers.get("HX-Request"):
            return HttpResponse(headers={"HX-Redirect": url})
        return redirect(url)
    text = pretty(pipeline_document(saved))
    return _render_editor(request, application, saved, Checked(text, checked.document), saved=saved.version)


@login_required
@require_POST
def pipeline_validate(request: HttpRequest, name: str, pipeline_id: Any = None) -> HttpResponse:
    """Check the editor's text; stores nothing. WRITE, like saving: readers' editors are read-only."""
    application, pipeline = _target(request, name, pipeline_id, "write")
    checked = check_text(request.POST.get("document", ""), application, pipeline, request.user)
    context = {"application": application, "checked": checked, "graph": _graph(checked), "oob_graph": True}
    return render(request, "pipelines/_editor_feedback.html", context)
