from __future__ import annotations

from typing import Any, cast

import django_filters
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.urls import reverse
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
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
from pipelines.models import Execution
from spinweb.api import need_for
from spinweb.models import AuditSource

OPERATION_STARTED = inline_serializer(
    "OperationStarted",
    {
        "execution": serializers.UUIDField(help_text="The orchestration that runs the operation."),
        "url": serializers.URLField(help_text="The execution in the API: poll it to follow the operation."),
        "page": serializers.URLField(help_text="The execution's page in the UI."),
    },
)


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

    def _operate(self, request: Request, operation: str, **fields: Any) -> Response:
        """Start the operation as an orchestration and answer where to follow it (202)."""
        group = get_server_group_for_user(request.user, self.kwargs["pk"], "execute")
        execution = actions.run_server_group_operation(request.user, group, operation, source=AuditSource.API, **fields)
        return Response(_started(request, execution), status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        request=inline_serializer(
            "ResizeRequest", {"capacity": serializers.JSONField(help_text="{min, max, desired}")}
        ),
        responses={202: OPERATION_STARTED},
    )
    @action(detail=True, methods=["post"])
    def resize(self, request: Request, pk: str, **kwargs: Any) -> Response:
        """Resize to ``{"capacity": {"min": 1, "max": 3, "desired": 2}}``."""
        return self._operate(request, "resize", capacity=_body(request).get("capacity"))

    @extend_schema(request=None, responses={202: OPERATION_STARTED})
    @action(detail=True, methods=["post"])
    def enable(self, request: Request, pk: str, **kwargs: Any) -> Response:
        """Put the server group back into its load balancers."""
        return self._operate(request, "enable")

    @extend_schema(request=None, responses={202: OPERATION_STARTED})
    @action(detail=True, methods=["post"])
    def disable(self, request: Request, pk: str, **kwargs: Any) -> Response:
        """Take the server group out of its load balancers; requests in flight finish."""
        return self._operate(request, "disable")

    @extend_schema(request=None, responses={202: OPERATION_STARTED})
    @action(detail=True, methods=["post"])
    def rollback(self, request: Request, pk: str, **kwargs: Any) -> Response:
        """Enable the server group created before this one, then disable this one."""
        return self._operate(request, "rollback")

    @extend_schema(
        request=inline_serializer(
            "DestroyRequest", {"confirm": serializers.CharField(help_text="The server group's name.")}
        ),
        responses={202: OPERATION_STARTED},
    )
    # Not named "destroy": that name belongs to DELETE on the resource, which stays unsupported.
    @action(detail=True, methods=["post"], url_path="destroy", url_name="destroy")
    def destroy_group(self, request: Request, pk: str, **kwargs: Any) -> Response:
        """Stop every instance and remove the server group: ``{"confirm": "<its name>"}``."""
        return self._operate(request, "destroy", confirm=_body(request).get("confirm"))


class OrchestrationViewSet(viewsets.ViewSet):
    """Run cluster stages without a pipeline (Spinnaker's "Tasks"): ``POST`` starts them, answers 202."""

    @extend_schema(
        request=inline_serializer(
            "OrchestrationRequest",
            {
                "application": serializers.CharField(help_text="The application the stages act for."),
                "stage": serializers.JSONField(required=False, help_text="One cluster stage, as in a pipeline."),
                "stages": serializers.JSONField(required=False, help_text="Or a list of them (run in order)."),
                "name": serializers.CharField(required=False, help_text="Defaults to the stages' names."),
                "confirm": serializers.JSONField(
                    required=False,
                    help_text="For destroyServerGroup the server group's name (or, with a target, the "
                    "cluster's); for shrinkCluster the cluster's. A list when several stages need one.",
                ),
            },
        ),
        responses={202: OPERATION_STARTED},
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Needs EXECUTE on the application; the stages are checked as at a pipeline save,
        including WRITE (READ for findImageFromCluster) on each account they name."""
        body = _body(request)
        if "stage" in body and "stages" in body:
            raise ValidationError({"stages": "Give stage or stages, not both."})
        stages = [body["stage"]] if "stage" in body else body.get("stages")
        execution = actions.run_orchestration(
            request.user,
            body.get("application"),
            stages=stages,
            name=body.get("name"),
            confirm=body.get("confirm"),
            source=AuditSource.API,
        )
        return Response(_started(request, execution), status=status.HTTP_202_ACCEPTED)


def _body(request: Request) -> dict[str, Any]:
    return request.data if isinstance(request.data, dict) else {}


def _started(request: Request, execution: Execution) -> dict[str, str]:
    page = reverse("pipelines:execution", kwargs={"name": execution.application.name, "execution_id": execution.pk})
    return {
        "execution": str(execution.pk),
        "url": request.build_absolute_uri(reverse("api:execution-detail", kwargs={"pk": execution.pk})),
        "page": request.build_absolute_uri(page),
    }


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
