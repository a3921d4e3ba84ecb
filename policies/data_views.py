"""Reference data pages (admins only): JSON documents policies read as ``data.<key>``."""

from __future__ import annotations

import json

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_safe

from applications.forms import ConfirmNameForm
from policies import actions
from policies.forms import ReferenceDataForm, add_issues
from policies.models import ReferenceData
from policies.views import admin_only
from spinweb.models import AuditSource


@admin_only
@require_safe
def data_list(request: HttpRequest) -> HttpResponse:
    items = ReferenceData.objects.select_related("updated_by").defer("document")
    return render(request, "policies/data_list.html", {"items": items})


@admin_only
@require_http_methods(["GET", "POST"])
def data_edit(request: HttpRequest, key: str | None = None) -> HttpResponse:
    item = get_object_or_404(ReferenceData, key=key) if key is not None else None
    editing = item is not None
    if request.method != "POST":
        initial = {"document": "{}"}
        if item is not None:
            document = json.dumps(item.document, indent=2, ensure_ascii=False)
            initial = {"key": item.key, "description": item.description, "document": document}
        form = ReferenceDataForm(initial=initial, editing=editing)
        return render(request, "policies/data_edit.html", {"item": item, "form": form})
    form = ReferenceDataForm(request.POST, initial={"key": key}, editing=editing)
    if form.is_valid() and item is None and ReferenceData.objects.filter(key=form.cleaned_data["key"]).exists():
        form.add_error("key", f"data.{form.cleaned_data['key']} already exists; edit it instead.")
    if form.is_valid():
        data = form.cleaned_data
        try:
            saved = actions.save_reference_data(
                request.user,
                key=data["key"],
                document=data["document"],
                description=data["description"],
                source_label=AuditSource.UI,
            )
        except actions.PolicyInvalid as exc:
            add_issues(form, exc.issues)
        else:
            messages.success(request, f"Saved data.{saved.key}, version {saved.version}.")
            return redirect("policies:data_edit", key=saved.key)
    return render(request, "policies/data_edit.html", {"item": item, "form": form}, status=400)


@admin_only
@require_http_methods(["GET", "POST"])
def data_delete(request: HttpRequest, key: str) -> HttpResponse:
    item = get_object_or_404(ReferenceData, key=key)
    form = ConfirmNameForm(request.POST or None, expected=item.key)
    if request.method == "POST" and form.is_valid():
        actions.delete_reference_data(request.user, item, source_label=AuditSource.UI)
        messages.success(request, f"Reference data {item.key} deleted.")
        return redirect("policies:data_list")
    status = 400 if request.method == "POST" else 200
    return render(request, "policies/data_delete.html", {"item": item, "form": form}, status=status)
