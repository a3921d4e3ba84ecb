"""Admin for policies, reference data and the decision log.

Saving goes through ``policies.actions`` like the pages and the API: the source is compiled, the
test cases run, a version kept and the change audited (so these admins are not ``AuditedAdmin``,
which would audit twice). The form's ``clean`` asks the same checks first, so a refusal shows
beside its field instead of failing after the form was accepted.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from policies import actions
from policies.forms import add_issues, unix_lines
from policies.models import Policy, PolicyDecision, PolicyInput, PolicyVersion, ReferenceData
from spinweb.models import AuditSource


class ReadOnlyAdmin(admin.ModelAdmin[Any]):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def pretty(value: Any) -> str:
    return format_html("<pre>{}</pre>", json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False))


class VersionInline(admin.TabularInline[PolicyVersion, Policy]):
    model = PolicyVersion
    extra = 0
    can_delete = False
    fields = ("version", "name", "mode", "enabled", "saved_at", "saved_by")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class PolicyAdminForm(forms.ModelForm[Policy]):
    class Meta:
        model = Policy
        fields = ["name", "description", "mode", "enabled", "source", "tests"]

    def clean_source(self) -> str:
        return unix_lines(self.cleaned_data["source"])

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not self.errors:
            policy = self.instance if self.instance.pk else None
            issues = actions.policy_issues(
                name=data["name"], source=data["source"], mode=data["mode"], tests=data.get("tests"), policy=policy
            )
            add_issues(self, issues)
        return data


@admin.register(Policy)
class PolicyAdmin(admin.ModelAdmin[Policy]):
    form = PolicyAdminForm
    list_display = ["name", "package", "mode", "enabled", "version", "starter", "updated_at", "updated_by"]
    list_filter = ["enabled", "mode", "starter"]
    search_fields = ["name", "package", "description"]
    readonly_fields = ["package", "version", "starter", "created_at", "updated_at", "updated_by"]
    inlines = [VersionInline]

    def save_model(self, request: HttpRequest, obj: Policy, form: forms.ModelForm[Policy], change: bool) -> None:
        data = form.cleaned_data
        saved = actions.save_policy(
            request.user,
            name=data["name"],
            source=data["source"],
            description=data["description"],
            mode=data["mode"],
            enabled=data["enabled"],
            tests=data["tests"],
            policy=obj if change else None,
            source_label=AuditSource.ADMIN,
        )
        obj.pk = saved.pk
        obj.refresh_from_db()

    def delete_model(self, request: HttpRequest, obj: Policy) -> None:
        actions.delete_policy(request.user, obj, source_label=AuditSource.ADMIN)

    @transaction.atomic
    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Policy]) -> None:
        for policy in queryset:
            actions.delete_policy(request.user, policy, source_label=AuditSource.ADMIN)


class ReferenceDataAdminForm(forms.ModelForm[ReferenceData]):
    class Meta:
        model = ReferenceData
        fields = ["key", "description", "document"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not self.errors:
            item = self.instance if self.instance.pk else None
            key = item.key if item is not None else data["key"]
            add_issues(self, actions.reference_data_issues(key, data.get("document"), item))
        return data


@admin.register(ReferenceData)
class ReferenceDataAdmin(admin.ModelAdmin[ReferenceData]):
    form = ReferenceDataAdminForm
    list_display = ["key", "description", "version", "updated_at", "updated_by"]
    search_fields = ["key", "description"]

    def get_readonly_fields(self, request: HttpRequest, obj: ReferenceData | None = None) -> list[str]:
        # Policies refer to the key (data.<key>): it is fixed once created.
        fields = ["version", "updated_at", "updated_by"]
        return ["key", *fields] if obj is not None else fields

    def save_model(
        self, request: HttpRequest, obj: ReferenceData, form: forms.ModelForm[ReferenceData], change: bool
    ) -> None:
        data = form.cleaned_data
        saved = actions.save_reference_data(
            request.user,
            key=obj.key,
            document=data["document"],
            description=data["description"],
            item=obj if change else None,
            source_label=AuditSource.ADMIN,
        )
        obj.pk = saved.pk
        obj.refresh_from_db()

    def delete_model(self, request: HttpRequest, obj: ReferenceData) -> None:
        actions.delete_reference_data(request.user, obj, source_label=AuditSource.ADMIN)

    @transaction.atomic
    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[ReferenceData]) -> None:
        for item in queryset:
            actions.delete_reference_data(request.user, item, source_label=AuditSource.ADMIN)


@admin.register(PolicyDecision)
class PolicyDecisionAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "hook", "package", "result", "username", "application", "dry_run", "subject"]
    list_filter = ["hook", "result", "dry_run", "failed_open", "engine", "created_at"]
    search_fields = ["package", "username", "application", "subject", "=execution_id"]
    date_hierarchy = "created_at"
    list_select_related = False
    fields = (
        "created_at",
        "hook",
        "package",
        "result",
        "allowed",
        "shown_messages",
        "error",
        "engine",
        "duration_ms",
        "username",
        "application",
        "execution_id",
        "stage_id",
        "subject",
        "dry_run",
        "failed_open",
        "input",
        "shown_input",
    )
    readonly_fields = fields

    @admin.display(description="Messages")
    def shown_messages(self, row: PolicyDecision) -> str:
        return pretty(row.messages)

    @admin.display(description="Input document")
    def shown_input(self, row: PolicyDecision) -> str:
        return pretty(row.input.document)


@admin.register(PolicyInput)
class PolicyInputAdmin(ReadOnlyAdmin):
    list_display = ["digest", "created_at"]
    search_fields = ["=digest"]
    fields = ("digest", "created_at", "shown_document")
    readonly_fields = fields

    @admin.display(description="Document")
    def shown_document(self, row: PolicyInput) -> str:
        return pretty(row.document)
