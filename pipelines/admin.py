from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from pipelines import actions
from pipelines.documents import version_diff
from pipelines.models import (
    Execution,
    Pipeline,
    PipelineTrigger,
    PipelineVersion,
    StageExecution,
    TriggerEvaluation,
    TriggerEvent,
)
from pipelines.triggers.secrets import mask_secrets
from spinweb.admin import AuditedAdmin
from spinweb.models import AuditSource


class ReadOnlyInline(admin.TabularInline[Any, Any]):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _masked_config(config: dict[str, Any]) -> str:
    return format_html("<pre>{}</pre>", json.dumps(mask_secrets(config), indent=2, sort_keys=True))


class VersionInline(ReadOnlyInline):
    model = PipelineVersion
    # saved_at is not editable, so a form may not list it; shown read-only instead.
    fields = ("version", "saved_at", "saved_by")
    readonly_fields = fields


@admin.register(Pipeline)
class PipelineAdmin(AuditedAdmin):
    """Pipelines are edited as JSON through the API, the CLI or pipelines as code; here they are read."""

    list_display = ["name", "application", "version", "updated_at", "updated_by"]
    list_filter = ["application"]
    search_fields = ["name", "application__name"]
    list_select_related = ["application", "updated_by"]
    # Listed explicitly so the raw config (with trigger secrets) is never a field of the page.
    fields = ("id", "application", "name", "masked_config", "version", "created_at", "updated_at", "updated_by")
    readonly_fields = fields
    inlines = [VersionInline]

    @admin.display(description="Config (trigger secrets masked)")
    def masked_config(self, row: Pipeline) -> str:
        return _masked_config(row.config)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(PipelineVersion)
class PipelineVersionAdmin(admin.ModelAdmin[PipelineVersion]):
    list_display = ["pipeline", "version", "saved_at", "saved_by"]
    actions = ["restore"]

    @admin.display(description="Changes from the version before")
    def changes(self, row: PipelineVersion) -> str:
        previous = row.pipeline.versions.filter(version__lt=row.version).order_by("-version").first()
        if previous is None:
            return "The first version."
        diff = version_diff(previous.config, row.config, f"version {previous.version}", f"version {row.version}")
        return format_html("<pre>{}</pre>", diff or "No change.")

    @admin.action(description="Restore the selected version (saved as a new version)")
    def restore(self, request: HttpRequest, queryset: QuerySet[PipelineVersion]) -> None:
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version to restore.", messages.ERROR)
            return
        row = queryset.select_related("pipeline__application").get()
        pipeline = actions.restore_version(request.user, row.pipeline, row.version, source=AuditSource.ADMIN)
        self.message_user(request, f"{pipeline} is now version {pipeline.version}, a copy of version {row.version}.")

    list_filter = ["pipeline__application"]
    search_fields = ["pipeline__name"]
    fields = ("pipeline", "version", "saved_at", "saved_by", "changes", "masked_config")
    readonly_fields = fields

    @admin.display(description="Config (trigger secrets masked)")
    def masked_config(self, row: PipelineVersion) -> str:
        return _masked_config(row.config)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class StageInline(ReadOnlyInline):
    model = StageExecution
    fields = ["ref_id", "name", "type", "status", "parent", "started_at", "ended_at", "failure_message"]


@admin.register(Execution)
class ExecutionAdmin(admin.ModelAdmin[Execution]):
    """Executions are read-only here: operator actions go through the UI, the API or the CLI."""

    list_display = ["id", "name", "application", "status", "created_at", "started_at", "ended_at"]
    list_filter = ["status", "application", "created_at"]
    search_fields = ["id", "name", "application__name"]
    list_select_related = ["application"]
    readonly_fields = [f.name for f in Execution._meta.concrete_fields]
    inlines = [StageInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyAdmin(admin.ModelAdmin[Any]):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class EvaluationInline(ReadOnlyInline):
    model = TriggerEvaluation
    fields = ("application", "pipeline_name", "trigger_index", "outcome", "reason", "execution")
    readonly_fields = fields


@admin.register(TriggerEvent)
class TriggerEventAdmin(ReadOnlyAdmin):
    """Every trigger event, those no pipeline listened to included (they show nowhere else)."""

    list_display = ["received_at", "kind", "source", "summary", "remote_address"]
    list_filter = ["kind", "received_at"]
    search_fields = ["source", "summary"]
    readonly_fields = ["kind", "source", "received_at", "summary", "remote_address", "payload"]
    inlines = [EvaluationInline]


@admin.register(PipelineTrigger)
class PipelineTriggerAdmin(ReadOnlyAdmin):
    """The trigger index, rewritten on every pipeline save; cron rows show when they fire next."""

    list_display = ["pipeline", "index", "type", "key", "enabled", "cron_expression", "time_zone", "next_fire_at"]
    list_filter = ["type", "enabled"]
    list_select_related = ["pipeline__application"]
    search_fields = ["pipeline__name", "key"]
    readonly_fields = [f.name for f in PipelineTrigger._meta.concrete_fields]
