from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_safe

from applications import actions
from applications.forms import ApplicationForm, ConfirmNameForm
from applications.models import Application, get_application_for_user
from clouds.models import Cluster
from spinweb.models import AuditEvent, AuditSource
from spinweb.permissions import Access, ordered


@login_required
@require_safe
def application_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    applications = Application.objects.visible_to(request.user).annotate(cluster_count=Count("clusters", distinct=True))
    if query:
        applications = applications.filter(Q(name__icontains=query) | Q(description__icontains=query))
    context = {
        "applications": applications,
        "query": query,
        "can_create": request.user.has_perm("applications.add_application"),
    }
    template = "applications/_table.html" if request.headers.get("HX-Request") else "applications/list.html"
    return render(request, template, context)


@login_required
@require_http_methods(["GET", "POST"])
def application_create(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm("applications.add_application"):
        raise PermissionDenied("You need the 'add application' permission to create applications.")
    form = ApplicationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            application = actions.create_application(
                request.user,
                name=form.cleaned_data["name"],
                owner_email=form.cleaned_data["owner_email"],
                description=form.cleaned_data["description"],
                grants=form.grants(),
                source=AuditSource.UI,
            )
        except ValidationError as exc:
            form.add_error(None, exc.messages)
        else:
            messages.success(request, f"Application {application.name} created.")
            return redirect("applications:detail", name=application.name)
    return render(request, "applications/form.html", {"form": form, "creating": True})


@login_required
@require_safe
def application_detail(request: HttpRequest, name: str) -> HttpResponse:
    application = get_application_for_user(request.user, name, "read")
    levels = application.levels_for(request.user)
    clusters = (
        Cluster.objects.filter(application=application).select_related("account").prefetch_related("server_groups")
    )
    context = {
        "application": application,
        "can_write": Access.WRITE.value in levels,
        "levels": ordered(levels),
        "clusters": clusters,
        "events": AuditEvent.objects.filter(application=application.name)[:10],
    }
    return render(request, "applications/detail.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def application_edit(request: HttpRequest, name: str) -> HttpResponse:
    application = get_application_for_user(request.user, name, "write")
    form = ApplicationForm(request.POST or None, instance=Application.objects.get(pk=application.pk))
    if request.method == "POST" and form.is_valid():
        try:
            actions.update_application(
                request.user,
                application,
                changes={key: form.cleaned_data[key] for key in ("owner_email", "description")},
                grants=form.grants(),
                source=AuditSource.UI,
            )
        except ValidationError as exc:
            form.add_error(None, exc.messages)
        else:
            messages.success(request, f"Application {application.name} saved.")
            return redirect("applications:detail", name=application.name)
    return render(request, "applications/form.html", {"form": form, "application": application})


@login_required
@require_http_methods(["GET", "POST"])
def application_delete(request: HttpRequest, name: str) -> HttpResponse:
    application = get_application_for_user(request.user, name, "write")
    form = ConfirmNameForm(request.POST or None, expected=application.name)
    blockers = application.deletion_blockers()
    if request.method == "POST" and form.is_valid() and not blockers:
        actions.delete_application(request.user, application, source=AuditSource.UI)
        messages.success(request, f"Application {name} deleted.")
        return redirect("applications:list")
    context = {"application": application, "form": form, "blockers": blockers}
    return render(
        request, "applications/delete.html", context, status=409 if blockers and request.method == "POST" else 200
    )
