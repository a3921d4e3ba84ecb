"""Admin for canary configs: the Kayenta JSON edited in one field, saved through ``canary.actions``.

Saving there validates, versions and audits (so this admin is not ``AuditedAdmin``, which would
audit twice). The form asks the same checks first, so each problem shows beside the JSON with
its path instead of failing after the form was accepted.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from canary import actions
from canary.models import CanaryConfig, CanaryConfigVersion, CanaryJudgment, CanaryReplay, CanaryRun
from pipelines.documents import version_diff
from spinweb.models import AuditSource


def _pretty(document: Any) -> str:
    return format_html("<pre>{}</pre>", json.dumps(document, indent=2, ensure_ascii=False))


class VersionInline(admin.TabularInline[CanaryConfigVersion, CanaryConfig]):
    model = CanaryConfigVersion
    extra = 0
    can_delete = False
    fields = ("version", "saved_at", "saved_by")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class CanaryConfigAdminForm(forms.ModelForm[CanaryConfig]):
    user: Any = None  # set by the admin, so validation sees applications as the user does

    class Meta:
        model = CanaryConfig
        fields = ["document"]
        help_texts = {"document": "Kayenta's canary-config JSON; applications[0] is the application it belongs to."}

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not self.errors:
            config = self.instance if self.instance.pk and not self.instance._state.adding else None
            for issue in actions.validate(data.get("document"), self.user, config):
                self.add_error("document", str(issue))
        return data


@admin.register(CanaryConfig)
class CanaryConfigAdmin(admin.ModelAdmin[CanaryConfig]):
    form = CanaryConfigAdminForm
    list_display = ["name", "application", "version", "updated_at", "updated_by"]
    list_filter = ["application"]
    search_fields = ["name", "application__name", "description"]
    list_select_related = ["application", "updated_by"]
    readonly_fields = ["id", "application", "name", "description", "version", "created_at", "updated_at", "updated_by"]
    inlines = [VersionInline]

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        return type(form.__name__, (form,), {"user": request.user})

    def save_model(
        self, request: HttpRequest, obj: CanaryConfig, form: forms.ModelForm[CanaryConfig], change: bool
    ) -> None:
        document = form.cleaned_data["document"]
        saved = actions.save_config(request.user, document, source=AuditSource.ADMIN, config=obj if change else None)
        obj.pk = saved.pk
        obj.refresh_from_db()

    def delete_model(self, request: HttpRequest, obj: CanaryConfig) -> None:
        actions.delete_config(request.user, obj, source=AuditSource.ADMIN)

    @transaction.atomic
    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[CanaryConfig]) -> None:
        for config in queryset:
            actions.delete_config(request.user, config, source=AuditSource.ADMIN)


@admin.register(CanaryConfigVersion)
class CanaryConfigVersionAdmin(admin.ModelAdmin[CanaryConfigVersion]):
    list_display = ["config", "version", "saved_at", "saved_by"]
    list_filter = ["config__application"]
    search_fields = ["config__name"]
    list_select_related = ["config__application", "saved_by"]
    fields = ("config", "version", "saved_at", "saved_by", "changes", "shown_document")
    readonly_fields = fields
    actions = ["restore"]

    @admin.display(description="Changes from the version before")
    def changes(self, row: CanaryConfigVersion) -> str:
        previous = row.config.versions.filter(version__lt=row.version).order_by("-version").first()
        if previous is None:
            return "The first version."
        diff = version_diff(previous.document, row.document, f"version {previous.version}", f"version {row.version}")
        return format_html("<pre>{}</pre>", diff or "No change.")

    @admin.display(description="Canary config JSON")
    def shown_document(self, row: CanaryConfigVersion) -> str:
        return _pretty(row.document)

    @admin.action(description="Restore the selected version (saved as a new version)")
    def restore(self, request: HttpRequest, queryset: QuerySet[CanaryConfigVersion]) -> None:
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version to restore.", messages.ERROR)
            return
        row = queryset.select_related("config__application").get()
        try:
            config = actions.restore_config_version(request.user, row.config, row.version, source=AuditSource.ADMIN)
        except actions.ConfigInvalid as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
            return
        self.message_user(request, f"{config} is now version {config.version}, a copy of version {row.version}.")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# Canary runs: read-only, the evidence as the stage stored it -----------------------------------


class ReadOnlyAdmin(admin.ModelAdmin[Any]):
    """Runs, judgments and replays are written by the canary stage and by replays, never by hand."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class JudgmentInline(admin.TabularInline[CanaryJudgment, CanaryRun]):
    model = CanaryJudgment
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ("index", "score", "classification", "reason", "judged_at")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[CanaryJudgment]:
        return super().get_queryset(request).defer("data", "result")


@admin.register(CanaryRun)
class CanaryRunAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "application",
        "config_name",
        "config_version",
        "state",
        "score",
        "classification",
        "created_at",
    ]
    list_filter = ["state", "classification", "application"]
    search_fields = ["id", "config_name", "application__name", "message"]
    list_select_related = ["application"]
    date_hierarchy = "created_at"
    inlines = [JudgmentInline]


class ReplayInline(admin.TabularInline[CanaryReplay, CanaryJudgment]):
    model = CanaryReplay
    extra = 0
    can_delete = False
    fields = ("config_label", "thresholds", "score", "classification", "created_at", "created_by")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(CanaryJudgment)
class CanaryJudgmentAdmin(ReadOnlyAdmin):
    list_display = ["run", "index", "score", "classification", "judged_at"]
    list_filter = ["classification", "run__application"]
    search_fields = ["run__id", "run__config_name", "reason", "error"]
    list_select_related = ["run__application"]
    inlines = [ReplayInline]
    fields = ("run", "index", "score", "classification", "reason", "error", "warnings", "windows", "shown_result")
    readonly_fields = fields

    @admin.display(description="Windows")
    def windows(self, row: CanaryJudgment) -> str:
        return (
            f"control {row.control_start.isoformat()} to {row.control_end.isoformat()}; "
            f"experiment {row.experiment_start.isoformat()} to {row.experiment_end.isoformat()}"
        )

    @admin.display(description="Judge result")
    def shown_result(self, row: CanaryJudgment) -> str:
        return _pretty(row.result)


@admin.register(CanaryReplay)
class CanaryReplayAdmin(ReadOnlyAdmin):
    list_display = ["judgment", "config_label", "score", "classification", "created_at", "created_by"]
    list_filter = ["classification", "judgment__run__application"]
    search_fields = ["config_label", "judgment__run__id"]
    list_select_related = ["judgment__run__application", "created_by"]
