from __future__ import annotations

from django.contrib import admin

from clouds.models import Account, AccountGrant, Cluster, LoadBalancer, ServerGroup
from spinweb.admin import AuditedAdmin


class AccountGrantInline(admin.TabularInline[AccountGrant, Account]):
    model = AccountGrant
    extra = 1
    autocomplete_fields = ["group"]


@admin.register(Account)
class AccountAdmin(AuditedAdmin):
    list_display = ["name", "provider", "environment", "regions", "credentials_kind"]
    list_filter = ["provider", "environment", "credentials_kind"]
    search_fields = ["name", "description"]
    readonly_fields = ["created_at", "updated_at"]
    inlines = [AccountGrantInline]


@admin.register(Cluster)
class ClusterAdmin(AuditedAdmin):
    list_display = ["name", "application", "account", "created_at"]
    list_filter = ["account", "account__provider"]
    search_fields = ["name", "application__name"]
    list_select_related = ["application", "account"]
    autocomplete_fields = ["application"]


@admin.register(ServerGroup)
class ServerGroupAdmin(AuditedAdmin):
    list_display = [
        "name",
        "cluster",
        "region",
        "artifact",
        "capacity_desired",
        "enabled",
        "traffic_weight",
        "health",
        "created_at",
        "destroyed_at",
    ]
    list_filter = ["enabled", "health", "region", "cluster__account", ("destroyed_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "artifact", "provider_id"]
    list_select_related = ["cluster"]
    readonly_fields = ["created_at"]
    filter_horizontal = ["load_balancers"]


@admin.register(LoadBalancer)
class LoadBalancerAdmin(AuditedAdmin):
    list_display = ["name", "application", "account", "region", "address"]
    list_filter = ["account", "region"]
    search_fields = ["name", "address", "application__name"]
    list_select_related = ["application", "account"]
