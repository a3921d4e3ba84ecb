"""Policy pages (admins only): the list, the editor with its check, versions, restore and delete.

Every change goes through ``policies.actions``, which compiles, runs the test cases, keeps a
version and audits; these views only turn forms into calls and issues back into form errors.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from applications.forms import ConfirmNameForm
from policies import actions, rego, testing
from policies.engines import data_document
from policies.forms import PolicyForm, add_issues, parse_json, unix_lines
from policies.hooks import Hook, hook_of
from policies.models import Policy, PolicyMode, PolicyVersion
from spinweb.diffs import diff_lines
from spinweb.models import AuditSource
from spinweb.permissions import is_admin

View = Callable[..., HttpResponse]
STARTER_TESTS = "[]"
STARTER_SOURCE = """package spinnaker.execution.stages.before.wait

import rego.v1

deny contains msg if {
  input.stage.context.waitTime > 3600
  msg := "Wait stages may wait an hour at most."
}
"""


@dataclass(frozen=True)
class PolicyRow:
    policy: Policy
    hook: Hook | None


def admin_only(view: View) -> View:
    """Log in first; then only admins: policies decide for every application."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not is_admin(request.user):
            raise PermissionDenied("Only administrators may see and change policies.")
        return view(request, *args, **kwargs)

    return login_required(wrapped)


@admin_only
@require_safe
def policy_list(request: HttpRequest) -> HttpResponse:
    rows = [PolicyRow(policy, hook_of(policy.package)) for policy in Policy.objects.all()]
    return render(request, "policies/list.html", {"rows": rows})


@admin_only
@require_POST
def policy_toggle(request: HttpRequest, policy_id: int) -> HttpResponse:
    """Enable or disable, after a ticked confirmation; a save like any other (checks, version, audit)."""
    policy = get_object_or_404(Policy, pk=policy_id)
    verb = "Disable" if policy.enabled else "Enable"
    if request.POST.get("confirm") != "yes":
        messages.error(request, f"Tick the box to confirm: {verb.lower()} {policy.name}.")
        return redirect("policies:list")
    try:
        saved = _save_as(request, policy, enabled=not policy.enabled)
    except actions.PolicyInvalid as exc:
        messages.error(request, f"{policy.name} was not changed: " + " ".join(m for _, m in exc.issues))
    else:
        messages.success(request, f"{saved.name} is now {'enabled' if saved.enabled else 'disabled'}.")
    return redirect("policies:list")


def _save_as(request: HttpRequest, policy: Policy, **changes: Any) -> Policy:
    values: dict[str, Any] = {
        "name": policy.name,
        "description": policy.description,
        "source": policy.source,
        "mode": policy.mode,
        "enabled": policy.enabled,
        "tests": policy.tests,
    }
    values.update(changes)
    return actions.save_policy(request.user, policy=policy, source_label=AuditSource.UI, **values)


@dataclass
class CheckReport:
    """What "Check" found: Rego problems, else each test case's result. Nothing is stored."""

    problems: list[rego.RegoProblem] = field(default_factory=list)
    cases: list[testing.CaseResult] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and not self.errors and all(case.passed for case in self.cases)


def check_policy(source: str, tests_text: str) -> CheckReport:
    report = CheckReport(problems=rego.check_source(source))
    try:
        cases = parse_json(tests_text, "test case list") if tests_text.strip() else []
    except ValidationError as exc:
        report.errors.extend(exc.messages)
        return report
    shape = testing.case_issues(cases)
    if shape:
        report.errors.extend(f"{path}: {message}" for path, message in shape)
        return report
    hook = hook_of(rego.package_of(source)) if cases and not report.problems else None
    if hook is not None:
        report.cases = testing.run_cases(source, hook, cases, data_document())
    return report


def _initial(policy: Policy | None) -> dict[str, Any]:
    if policy is None:
        return {"mode": PolicyMode.ENFORCE, "source": STARTER_SOURCE, "tests": STARTER_TESTS}
    return {
        "name": policy.name,
        "description": policy.description,
        "mode": policy.mode,
        "enabled": policy.enabled,
        "source": policy.source,
        "tests": json.dumps(policy.tests, indent=2, ensure_ascii=False),
    }


def _render_editor(request: HttpRequest, policy: Policy | None, form: PolicyForm, status: int = 200) -> HttpResponse:
    return render(request, "policies/editor.html", {"policy": policy, "form": form}, status=status)


@admin_only
@require_http_methods(["GET", "POST"])
def policy_editor(request: HttpRequest, policy_id: int | None = None) -> HttpResponse:
    policy = get_object_or_404(Policy, pk=policy_id) if policy_id is not None else None
    if request.method != "POST":
        return _render_editor(request, policy, PolicyForm(initial=_initial(policy)))
    form = PolicyForm(request.POST)
    if not form.is_valid():
        return _render_editor(request, policy, form, status=400)
    try:
        saved = actions.save_policy(request.user, policy=policy, source_label=AuditSource.UI, **form.cleaned_data)
    except actions.PolicyInvalid as exc:
        add_issues(form, exc.issues)
        return _render_editor(request, policy, form, status=400)
    messages.success(request, f"Saved {saved.name}, version {saved.version}.")
    return redirect("policies:edit", policy_id=saved.pk)


@admin_only
@require_POST
def policy_check(request: HttpRequest) -> HttpResponse:
    """Compile the editor's source and run its test cases without saving (the htmx "Check")."""
    report = check_policy(unix_lines(request.POST.get("source", "")), request.POST.get("tests", ""))
    return render(request, "policies/_check.html", {"report": report})


@admin_only
@require_http_methods(["GET", "POST"])
def policy_delete(request: HttpRequest, policy_id: int) -> HttpResponse:
    policy = get_object_or_404(Policy, pk=policy_id)
    form = ConfirmNameForm(request.POST or None, expected=policy.name)
    if request.method == "POST" and form.is_valid():
        actions.delete_policy(request.user, policy, source_label=AuditSource.UI)
        messages.success(request, f"Policy {policy.name} deleted.")
        return redirect("policies:list")
    status = 400 if request.method == "POST" else 200
    return render(request, "policies/delete.html", {"policy": policy, "form": form}, status=status)


@admin_only
@require_safe
def policy_versions(request: HttpRequest, policy_id: int) -> HttpResponse:
    policy = get_object_or_404(Policy, pk=policy_id)
    versions = policy.versions.select_related("saved_by").order_by("-version")
    return render(request, "policies/versions.html", {"policy": policy, "versions": versions})


def version_text(row: PolicyVersion | None) -> list[str]:
    """A version as diffable lines: its settings, its source, its test cases."""
    if row is None:
        return []
    head = [f"name: {row.name}", f"mode: {row.mode}", f"enabled: {str(row.enabled).lower()}"]
    head += [f"description: {line}" for line in row.description.splitlines()]
    tests = json.dumps(row.tests, indent=2, ensure_ascii=False).splitlines()
    return [*head, "", "# source", *row.source.splitlines(), "", "# test cases", *tests]


def diff_rows(old: PolicyVersion | None, new: PolicyVersion) -> list[tuple[str, str]]:
    """Each line of the unified diff with its class: added, removed, hunk, header or context."""
    old_label = f"version {old.version}" if old is not None else "nothing"
    lines = difflib.unified_diff(version_text(old), version_text(new), old_label, f"version {new.version}", lineterm="")
    return diff_lines("\n".join(lines))


@admin_only
@require_safe
def policy_version_diff(request: HttpRequest, policy_id: int, version: int) -> HttpResponse:
    """``version`` against ``?against=previous`` (default), ``current`` or a version number."""
    policy = get_object_or_404(Policy, pk=policy_id)
    against = request.GET.get("against", "previous")
    other = policy.version if against == "current" else int(against) if against.isdigit() else version - 1
    rows = {row.version: row for row in policy.versions.filter(version__in=[version, other]).select_related("saved_by")}
    pair = sorted({version, other})
    old_row, new_row = (rows.get(pair[0]) if len(pair) == 2 else None), rows.get(pair[-1])
    if version not in rows or new_row is None:
        raise Http404(f"{policy.name} has no version {version if version not in rows else other}.")
    lines = diff_rows(old_row, new_row)
    context = {"policy": policy, "version": rows[version], "old": old_row, "new": new_row, "lines": lines}
    return render(request, "policies/version_diff.html", context)


@admin_only
@require_POST
def policy_restore(request: HttpRequest, policy_id: int, version: int) -> HttpResponse:
    policy = get_object_or_404(Policy, pk=policy_id)
    if request.POST.get("confirm") != "yes":
        messages.error(request, f"Tick the box to confirm restoring version {version}.")
        return redirect("policies:versions", policy_id=policy.pk)
    try:
        restored = actions.restore_policy_version(request.user, policy, version, source_label=AuditSource.UI)
    except actions.PolicyInvalid as exc:
        messages.error(request, f"Version {version} was not restored: " + " ".join(m for _, m in exc.issues))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Restored version {version} as version {restored.version}.")
    return redirect("policies:versions", policy_id=policy.pk)
