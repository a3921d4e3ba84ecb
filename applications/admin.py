from __future__ import annotations

from django.contrib import admin

from applications.models import Application, ApplicationGrant
from spinweb.admin import AuditedAdmin


class ApplicationGrantInline(admin.TabularInline[ApplicationGrant, Application]):
    model = ApplicationGrant
    extra = 1
    autocomplete_fields = ["group"]


@admin.register(Application)
class ApplicationAdmin(AuditedAdmin):
    list_display = ["name", "owner_email", "created_at", "updated_at"]
    list_filter = ["created_at", "grants__level", "grants__group"]
    search_fields = ["name", "owner_email", "description"]
    readonly_fields = ["created_at", "updated_at", "created_by"]
    inlines = [ApplicationGrantInline]

    def get_readonly_fields(self, request: object, obj: Application | None = None) -> list[str]:
        # The name is fixed once created: pipelines, clusters and the audit log refer to it.
        return [*self.readonly_fields, "name"] if obj is not None else list(self.readonly_fields)
