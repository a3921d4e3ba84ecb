from __future__ import annotations

from typing import Any, cast

import django_filters
from django.db.models import QuerySet
from rest_framework import status, viewsets
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from clouds import actions
from clouds.api.serializers import AccountSerializer, ClusterSerializer, LoadBalancerSerializer, ServerGroupSerializer
from clouds.models import (
    Account,
    Cluster,
    LoadBalancer,
    ServerGroup,
    get_account_for_user,
    get_cluster_for_user,
    get_load_balancer_for_user,
    get_server_group_for_user,
)
from spinweb.api import need_for
from spinweb.models import AuditSource


class AccountViewSet(viewsets.ModelViewSet[Account]):
    """Cloud accounts the caller can see. Creating, changing and deleting need the model permissions."""

    serializer_class = AccountSerializer
    lookup_field = "name"
    filterset_fields = ["provider", "environment"]
    search_fields = ["name", "description"]
    ordering_fields = ["name", "created_at"]

    def get_queryset(self) -> QuerySet[Account]:
        return Account.objects.visible_to(self.request.user).prefetch_related("grants__group")

    def get_object(self) -> Account:
        account = get_account_for_user(self.request.user, self.kwargs["name"], "read")
        self._require_model_perm(self.request)
        return account

    def _require_model_perm(self, request: Request) -> None:
        verb = {"POST": "add", "PUT": "change", "PATCH": "change", "DELETE": "delete"}.get(request.method or "")
        if verb and not request.user.has_perm(f"clouds.{verb}_account"):
            raise PermissionDenied(f"You need the '{verb} account' permission for this.")

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self._require_model_perm(request)
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        grants = data.pop("grants", None)
        account = actions.create_account(request.user, fields=data, grants=grants, source=AuditSource.API)
        return Response(self.get_serializer(account).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        account = self.get_object()
        serializer = self.get_serializer(account, data=request.data, partial=kwargs.get("partial", False))
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        grants = data.pop("grants", None)
        account = actions.update_account(request.user, account, changes=data, grants=grants, source=AuditSource.API)
        return Response(self.get_serializer(account).data)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        actions.delete_account(request.user, self.get_object(), source=AuditSource.API)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ClusterFilter(django_filters.FilterSet):
    application = django_filters.CharFilter(field_name="application__name")
    account = django_filters.CharFilter(field_name="account__name")

    class Meta:
        model = Cluster
        fields = ["application", "account", "name"]


class ClusterViewSet(viewsets.ReadOnlyModelViewSet[Cluster]):
    """Clusters of applications the caller can read. They change through deployments."""

    serializer_class = ClusterSerializer
    filterset_class = ClusterFilter
    search_fields = ["name"]
    ordering_fields = ["name", "created_at"]

    def get_queryset(self) -> QuerySet[Cluster]:
        return cast(
            QuerySet[Cluster], Cluster.objects.visible_to(self.request.user).select_related("application", "account")
        )

    def get_object(self) -> Cluster:
        return get_cluster_for_user(self.request.user, self.kwargs["pk"], need_for(self.request))


class ServerGroupFilter(django_filters.FilterSet):
    application = django_filters.CharFilter(field_name="cluster__application__name")
    account = django_filters.CharFilter(field_name="cluster__account__name")
    cluster = django_filters.CharFilter(field_name="cluster__name")
    active = django_filters.BooleanFilter(field_name="destroyed_at", lookup_expr="isnull")

    class Meta:
        model = ServerGroup
        fields = ["application", "account", "cluster", "region", "enabled", "health", "active"]


class ServerGroupViewSet(viewsets.ReadOnlyModelViewSet[ServerGroup]):
    """Server groups of applications the caller can read."""

    serializer_class = ServerGroupSerializer
    filterset_class = ServerGroupFilter
    search_fields = ["name", "artifact"]
    ordering_fields = ["name", "created_at", "sequence"]

    def get_queryset(self) -> QuerySet[ServerGroup]:
        return cast(
            QuerySet[ServerGroup],
            ServerGroup.objects.visible_to(self.request.user)
            .select_related("cluster__application", "cluster__account")
            .prefetch_related("load_balancers"),
        )

    def get_object(self) -> ServerGroup:
        return get_server_group_for_user(self.request.user, self.kwargs["pk"], need_for(self.request))


class LoadBalancerFilter(django_filters.FilterSet):
    application = django_filters.CharFilter(field_name="application__name")
    account = django_filters.CharFilter(field_name="account__name")

    class Meta:
        model = LoadBalancer
        fields = ["application", "account", "region"]


class LoadBalancerViewSet(viewsets.ReadOnlyModelViewSet[LoadBalancer]):
    """Load balancers of applications the caller can read."""

    serializer_class = LoadBalancerSerializer
    filterset_class = LoadBalancerFilter
    search_fields = ["name", "address"]
    ordering_fields = ["name", "created_at"]

    def get_queryset(self) -> QuerySet[LoadBalancer]:
        return cast(
            QuerySet[LoadBalancer],
            LoadBalancer.objects.visible_to(self.request.user).select_related("application", "account"),
        )

    def get_object(self) -> LoadBalancer:
        return get_load_balancer_for_user(self.request.user, self.kwargs["pk"], need_for(self.request))
