"""Admin for the audit log, and the mixin that makes every admin change audited."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User
from django.db import models, transaction
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest

from spinweb.actions import delete_audited, deletion_blockers
from spinweb.audit import record, snapshot
from spinweb.models import AuditAction, AuditEvent, AuditSource


class AuditedAdmin(admin.ModelAdmin[Any]):
    """Admin changes land in the audit log like any other, with the state before and after.

    The "after" is taken once inlines (such as permission grants) are saved.
    """

    def save_model(self, request: HttpRequest, obj: Any, form: ModelForm[Any], change: bool) -> None:
        before = snapshot(type(obj).objects.get(pk=obj.pk)) if change else None
        request._audit_before = before  # type: ignore[attr-defined]
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: ModelForm[Any], formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        obj = form.instance
        before = getattr(request, "_audit_before", None)
        after = snapshot(obj)
        if not change:
            record(request.user, AuditAction.CREATE, obj, source=AuditSource.ADMIN, after=after)
        elif after != before:
            record(request.user, AuditAction.UPDATE, obj, source=AuditSource.ADMIN, before=before, after=after)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        delete_audited(request.user, obj, source=AuditSource.ADMIN)

    @transaction.atomic
    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for obj in queryset:
            delete_audited(request.user, obj, source=AuditSource.ADMIN)

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        """Show what blocks a delete on the confirmation page instead of failing after it."""
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        for obj in objs:
            protected.extend(f"{obj}: {reason}" for reason in deletion_blockers(obj))
        return deleted, counts, perms_needed, protected


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin[AuditEvent]):
    list_display = ["at", "actor_name", "source", "action", "object_type", "object_repr", "application"]
    list_filter = ["action", "source", "object_type", "at"]
    search_fields = ["actor_name", "object_repr", "application", "detail"]
    date_hierarchy = "at"
    readonly_fields = [field.name for field in AuditEvent._meta.get_fields() if isinstance(field, models.Field)]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        return False


# Groups carry application and account grants, and users their membership: audit them too.
admin.site.unregister(Group)
admin.site.unregister(User)


@admin.register(Group)
class AuditedGroupAdmin(AuditedAdmin, GroupAdmin):
    pass


@admin.register(User)
class AuditedUserAdmin(AuditedAdmin, UserAdmin[User]):
    pass


admin.site.site_header = "Spinweb administration"
admin.site.site_title = "Spinweb admin"
