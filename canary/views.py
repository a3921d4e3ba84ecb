"""Canary-config pages: the list per application, the JSON editor, versions, delete, export.

The editor reuses the pipeline editor's parts (``pipelines.editor_views.Checked`` and its
templates): each problem is shown at its JSON path and at the line of that path, bad JSON at
its line and column. Every change goes through ``canary.actions``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from applications.forms import ConfirmNameForm
from applications.models import Application, get_application_for_user
from canary import actions
from canary.configs import DEFAULT_SCOPE_NAME, SERVER_KEYS
from canary.models import CanaryConfig, CanaryConfigVersion, get_canary_config_for_user
from pipelines.documents import version_diff
from pipelines.editor_views import Checked, EditorIssue, located
from pipelines.validation import Issue
from spinweb.diffs import diff_lines
from spinweb.models import AuditSource
from spinweb.permissions import Access, Need

if TYPE_CHECKING:
    from spinweb.permissions import AnyUser

MAX_TEXT_BYTES = 2_000_000
HEAD_KEYS = ("id", "name", "description", "applications")


def _config(request: HttpRequest, name: str, config_id: Any, need: Need) -> CanaryConfig:
    config = get_canary_config_for_user(request.user, config_id, need)
    if config.application.name != name:
        raise Http404("No canary config found.")
    return config


def _can_write(application: Application, user: AnyUser) -> bool:
    return Access.WRITE.value in application.levels_for(user)


@login_required
@require_safe
def config_list(request: HttpRequest, name: str) -> HttpResponse:
    application = get_application_for_user(request.user, name, "read")
    configs = CanaryConfig.objects.filter(application=application).select_related("updated_by")
    context = {"application": application, "configs": configs, "can_write": _can_write(application, request.user)}
    return render(request, "canary/list.html", context)


def pretty(document: dict[str, Any]) -> str:
    head = {key: document[key] for key in HEAD_KEYS if key in document}
    return json.dumps(head | document, indent=2, ensure_ascii=False)


def _blank(application: Application) -> dict[str, Any]:
    metric = {
        "name": "error_rate",
        "groups": ["errors"],
        "scopeName": DEFAULT_SCOPE_NAME,
        "query": {"type": "builtin", "metricName": "error_rate"},
        "analysisConfigurations": {"canary": {"direction": "increase", "critical": True}},
    }
    return {
        "name": "",
        "applications": [application.name],
        "judge": {"name": "NetflixACAJudge-v1.0", "judgeConfigurations": {}},
        "metrics": [metric],
        "classifier": {"groupWeights": {"errors": 100}},
        "templates": {},
    }


def check_text(text: str, application: Application, config: CanaryConfig | None, user: AnyUser) -> Checked:
    """Parse and check the editor's text as a config of ``application`` (``config`` when editing)."""
    size = len(text.encode())
    if size > MAX_TEXT_BYTES:
        return Checked(text, None, [EditorIssue(1, "", f"The text is {size} bytes; the editor takes up to 2 MB.")])
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as exc:
        return Checked(text, None, [EditorIssue(exc.lineno, "", f"Line {exc.lineno}, column {exc.colno}: {exc.msg}.")])
    except RecursionError:
        return Checked(text, None, [EditorIssue(1, "", "The JSON is nested too deeply.")])
    if not isinstance(parsed, dict):
        return Checked(text, None, [EditorIssue(1, "", "The canary config must be a JSON object.")])
    document = {key: value for key, value in parsed.items() if key not in SERVER_KEYS}
    if config is None:
        document.pop("id", None)  # a pasted config must not take over the one it was copied from
    issues = actions.validate(document, user, config)
    if actions.application_name(document) not in (None, application.name):
        issues = [issue for issue in issues if issue.path != "applications[0]"]
        issues.append(Issue("applications[0]", f"This page saves configs of {application.name}; keep it."))
    return located(text, document, issues)


def _target(request: HttpRequest, name: str, config_id: Any, need: Need) -> tuple[Application, CanaryConfig | None]:
    if config_id is None:
        return get_application_for_user(request.user, name, need), None
    config = _config(request, name, config_id, need)
    return config.application, config


def _urls(application: Application, config: CanaryConfig | None) -> dict[str, str]:
    if config is None:
        kwargs: dict[str, Any] = {"name": application.name}
        return {
            "save_url": reverse("canary:new", kwargs=kwargs),
            "validate_url": reverse("canary:validate_new", kwargs=kwargs),
        }
    kwargs = {"name": application.name, "config_id": config.pk}
    return {
        "save_url": reverse("canary:edit", kwargs=kwargs),
        "validate_url": reverse("canary:validate", kwargs=kwargs),
    }


def _render_editor(
    request: HttpRequest, application: Application, config: CanaryConfig | None, checked: Checked, status: int = 200
) -> HttpResponse:
    can_write = _can_write(application, request.user)
    context = {
        "application": application,
        "config": config,
        "checked": checked,
        "can_write": can_write,
        "read_only": not can_write,
        **_urls(application, config),
    }
    return render(request, "canary/editor.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def config_editor(request: HttpRequest, name: str, config_id: Any = None) -> HttpResponse:
    """Readers see the JSON read-only; WRITE saves it (``new/`` needs WRITE to open at all)."""
    if request.method == "POST":
        return _save(request, name, config_id)
    application, config = _target(request, name, config_id, "read" if config_id else "write")
    text = pretty(config.document if config is not None else _blank(application))
    return _render_editor(request, application, config, Checked(text, None))


def _save(request: HttpRequest, name: str, config_id: Any) -> HttpResponse:
    application, config = _target(request, name, config_id, "write")
    text = request.POST.get("document", "")
    checked = check_text(text, application, config, request.user)
    if checked.issues or checked.document is None:
        return _render_editor(request, application, config, checked, status=400)
    try:
        saved = actions.save_config(request.user, checked.document, source=AuditSource.UI, config=config)
    except actions.ConfigInvalid as exc:
        return _render_editor(request, application, config, located(text, checked.document, exc.issues), status=400)
    messages.success(request, f"Saved version {saved.version}.")
    return redirect("canary:edit", name=application.name, config_id=saved.pk)


@login_required
@require_POST
def config_validate(request: HttpRequest, name: str, config_id: Any = None) -> HttpResponse:
    """Check the editor's text; stores nothing. WRITE, like saving: readers' editors are read-only."""
    application, config = _target(request, name, config_id, "write")
    checked = check_text(request.POST.get("document", ""), application, config, request.user)
    return render(request, "canary/_editor_feedback.html", {"checked": checked})


@login_required
@require_safe
def config_export(request: HttpRequest, name: str, config_id: Any) -> HttpResponse:
    config = _config(request, name, config_id, "read")
    response = JsonResponse(config.kayenta_document(), json_dumps_params={"indent": 2, "ensure_ascii": False})
    response["Content-Disposition"] = f'attachment; filename="{application_file(config)}"'
    return response


def application_file(config: CanaryConfig) -> str:
    return f"{config.application.name}-{config.name}.json".replace('"', "")


@login_required
@require_safe
def config_versions(request: HttpRequest, name: str, config_id: Any) -> HttpResponse:
    config = _config(request, name, config_id, "read")
    context = {
        "application": config.application,
        "config": config,
        "versions": config.versions.select_related("saved_by").order_by("-version"),
        "can_write": _can_write(config.application, request.user),
    }
    return render(request, "canary/versions.html", context)


@login_required
@require_safe
def config_version_diff(request: HttpRequest, name: str, config_id: Any, version: int) -> HttpResponse:
    """``version`` against ``?against=previous`` (the default), ``current`` or a version number."""
    config = _config(request, name, config_id, "read")
    against = request.GET.get("against", "previous")
    other = config.version if against == "current" else int(against) if against.isdigit() else version - 1
    rows: dict[int, CanaryConfigVersion] = {
        row.version: row for row in config.versions.filter(version__in=[version, other]).select_related("saved_by")
    }
    for number in (version, other):
        if number not in rows and number != 0:  # 0: "previous" of the first version, shown as empty
            raise Http404(f"{config.name} has no version {number}.")
    old, new = sorted({version, other})
    documents = {number: row.document for number, row in rows.items()}
    text = version_diff(documents.get(old, {}), documents[new], f"version {old}", f"version {new}")
    context = {
        "application": config.application,
        "config": config,
        "version": rows[version],
        "old": old if old in rows else None,
        "new": new,
        "lines": diff_lines(text),
    }
    return render(request, "canary/version_diff.html", context)


@login_required
@require_POST
def config_restore(request: HttpRequest, name: str, config_id: Any, version: int) -> HttpResponse:
    config = _config(request, name, config_id, "write")
    if request.POST.get("confirm") != "yes":
        messages.error(request, f"Tick the box to confirm restoring version {version}.")
    else:
        try:
            restored = actions.restore_config_version(request.user, config, version, source=AuditSource.UI)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"Restored version {version} as version {restored.version}.")
    return redirect("canary:versions", name=name, config_id=config.pk)


@login_required
@require_http_methods(["GET", "POST"])
def config_delete(request: HttpRequest, name: str, config_id: Any) -> HttpResponse:
    config = _config(request, name, config_id, "write")
    form = ConfirmNameForm(request.POST or None, expected=config.name)
    if request.method == "POST" and form.is_valid():
        actions.delete_config(request.user, config, source=AuditSource.UI)
        messages.success(request, f"Canary config {config.name} deleted.")
        return redirect("canary:list", name=name)
    status = 400 if request.method == "POST" else 200
    context = {"application": config.application, "config": config, "form": form}
    return render(request, "canary/delete.html", context, status=status)
