"""Policies over REST. Everything here is for admins, except a pipeline's dry run (READ on its application).

Every change calls ``policies.actions`` (compile, run the test cases, keep a version, audit);
refusals answer 400 ``{"detail", "errors": [{"field", "message"}]}`` naming each field.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from pipelines.models import get_pipeline_for_user
from policies import actions, gate, hooks, testing
from policies.api.serializers import (
    DryRunRequestSerializer,
    EvalRequestSerializer,
    EvalResponseSerializer,
    PolicyDecisionDetailSerializer,
    PolicyDecisionSerializer,
    PolicySerializer,
    PolicyVersionSerializer,
    ReferenceDataSerializer,
    RestoreSerializer,
    TestRunSerializer,
)
from policies.dryrun import dry_run
from policies.models import Policy, PolicyDecision, PolicyMode, ReferenceData
from policies.types import Decision
from policies.views import diff_rows
from spinweb.models import AuditSource
from spinweb.permissions import is_admin

POLICY_FIELDS = ("name", "description", "source", "mode", "enabled", "tests")


class IsAdmin(BasePermission):
    message = "Only administrators may see and change policies."

    def has_permission(self, request: Request, view: Any) -> bool:
        return is_admin(request.user)


def invalid(exc: actions.PolicyInvalid, what: str = "policy") -> Response:
    errors = [{"field": path, "message": message} for path, message in exc.issues]
    summary = "; ".join(f"{e['field'] or what}: {e['message']}" for e in errors)
    return Response({"detail": f"Invalid {what}. {summary}", "errors": errors}, status=status.HTTP_400_BAD_REQUEST)


class PolicyFilter(django_filters.FilterSet):
    class Meta:
        model = Policy
        fields = ["enabled", "mode", "package", "starter"]


@extend_schema(responses=PolicySerializer)
class PolicyViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet[Policy]
):
    """Rego policies. Saving compiles the source and runs its test cases; every save is a version."""

    serializer_class = PolicySerializer
    permission_classes = [IsAuthenticated, IsAdmin]
    filterset_class = PolicyFilter
    search_fields = ["name", "description", "package"]
    ordering_fields = ["name", "updated_at"]
    queryset = Policy.objects.select_related("updated_by")

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self._save(request, None, status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self._save(request, self.get_object(), status.HTTP_200_OK, partial=kwargs.get("partial", False))

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.update(request, *args, partial=True, **kwargs)

    def _save(self, request: Request, policy: Policy | None, code: int, *, partial: bool = False) -> Response:
        serializer = self.get_serializer(policy, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        values = {key: getattr(policy, key) for key in POLICY_FIELDS} if policy is not None else {}
        values.update(
            {key: serializer.validated_data[key] for key in POLICY_FIELDS if key in serializer.validated_data}
        )
        try:
            saved = actions.save_policy(request.user, policy=policy, source_label=AuditSource.API, **values)
        except actions.PolicyInvalid as exc:
            return invalid(exc)
        return Response(self.get_serializer(saved).data, status=code)

    def perform_destroy(self, instance: Policy) -> None:
        actions.delete_policy(self.request.user, instance, source_label=AuditSource.API)

    @extend_schema(request=None, responses=TestRunSerializer)
    @action(detail=True, methods=["post"])
    def test(self, request: Request, pk: str) -> Response:
        """Run the policy's test cases against the live reference data; stores nothing."""
        results = testing.run_policy_tests(self.get_object())
        cases = [{"name": r.name, "passed": r.passed, "detail": r.detail} for r in results]
        return Response({"passed": all(r.passed for r in results), "cases": cases})

    @extend_schema(responses=PolicyVersionSerializer(many=True))
    @action(detail=True, methods=["get"])
    def versions(self, request: Request, pk: str) -> Response:
        rows = self.get_object().versions.select_related("saved_by").order_by("-version")
        return Response(PolicyVersionSerializer(rows, many=True).data)

    @extend_schema(responses=OpenApiTypes.OBJECT)
    @action(detail=True, methods=["get"])
    def diff(self, request: Request, pk: str) -> Response:
        """Unified diff of two versions: ``?from=1&to=3`` (``to`` defaults to the current version)."""
        policy = self.get_object()
        try:
            new = int(request.query_params.get("to", policy.version))
            old = int(request.query_params.get("from", new - 1))
        except ValueError:
            raise ValidationError({"from": "Give version numbers."}) from None
        rows = {row.version: row for row in policy.versions.filter(version__in=[old, new])}
        if new not in rows:
            raise ValidationError({"to": f"{policy.name} has no version {new}."})
        lines = [line for _, line in diff_rows(rows.get(old), rows[new])]
        return Response({"from": old if old in rows else None, "to": new, "diff": "\n".join(lines)})

    @extend_schema(request=RestoreSerializer, responses=PolicySerializer)
    @action(detail=True, methods=["post"])
    def restore(self, request: Request, pk: str) -> Response:
        """Save an old version again as a new one (its checks and test cases must pass)."""
        policy = self.get_object()
        body = RestoreSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            restored = actions.restore_policy_version(
                request.user, policy, body.validated_data["version"], source_label=AuditSource.API
            )
        except actions.PolicyInvalid as exc:
            return invalid(exc)
        return Response(self.get_serializer(restored).data)


@extend_schema(responses=ReferenceDataSerializer)
class ReferenceDataViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet[ReferenceData]
):
    """JSON documents policies read as ``data.<key>``."""

    serializer_class = ReferenceDataSerializer
    permission_classes = [IsAuthenticated, IsAdmin]
    lookup_field = "key"
    search_fields = ["key", "description"]
    queryset = ReferenceData.objects.select_related("updated_by")

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        key = serializer.validated_data["key"]
        if ReferenceData.objects.filter(key=key).exists():
            raise ValidationError({"key": f"data.{key} already exists; PUT /api/v1/policy-data/{key}/ to change it."})
        return self._save(request, key, serializer.validated_data, status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        item = self.get_object()
        data = {"key": item.key, **request.data} if isinstance(request.data, dict) else request.data
        serializer = self.get_serializer(item, data=data, partial=kwargs.get("partial", False))
        serializer.is_valid(raise_exception=True)
        if serializer.validated_data.get("key", item.key) != item.key:
            raise ValidationError({"key": "A document's key cannot change; create a new one instead."})
        values = {"document": item.document, "description": item.description, **serializer.validated_data}
        return self._save(request, item.key, values, status.HTTP_200_OK)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.update(request, *args, partial=True, **kwargs)

    def _save(self, request: Request, key: str, values: dict[str, Any], code: int) -> Response:
        try:
            saved = actions.save_reference_data(
                request.user,
                key=key,
                document=values["document"],
                description=values.get("description", ""),
                source_label=AuditSource.API,
            )
        except actions.PolicyInvalid as exc:
            return invalid(exc, "reference data")
        return Response(self.get_serializer(saved).data, status=code)

    def perform_destroy(self, instance: ReferenceData) -> None:
        actions.delete_reference_data(self.request.user, instance, source_label=AuditSource.API)


class DecisionFilter(django_filters.FilterSet):
    package = django_filters.CharFilter(field_name="package", lookup_expr="icontains")
    user = django_filters.CharFilter(field_name="username")
    execution = django_filters.UUIDFilter(field_name="execution_id")
    since = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = PolicyDecision
        fields = ["hook", "result", "package", "user", "application", "execution", "since", "until", "dry_run"]


class DecisionPagination(CursorPagination):
    """Keyset pages: any page costs the same, however long the log."""

    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


class PolicyDecisionViewSet(viewsets.ReadOnlyModelViewSet[PolicyDecision]):
    """The decision log, newest first; the detail carries the stored input document."""

    permission_classes = [IsAuthenticated, IsAdmin]
    filterset_class = DecisionFilter
    pagination_class = DecisionPagination
    filter_backends = [django_filters.rest_framework.DjangoFilterBackend]

    def get_queryset(self) -> QuerySet[PolicyDecision]:
        if self.action == "retrieve":
            return PolicyDecision.objects.select_related("input")
        return PolicyDecision.objects.all()

    def get_serializer_class(self) -> type[PolicyDecisionSerializer]:
        return PolicyDecisionDetailSerializer if self.action == "retrieve" else PolicyDecisionSerializer


def decision_answer(decision: Decision) -> dict[str, Any]:
    """Armory's shape: ``allowed`` with ``deny`` (or ``message`` for authz), plus who said what."""
    body: dict[str, Any] = {"allowed": decision.allowed, "result": decision.result}
    if decision.hook == hooks.Hook.AUTHZ:
        body["message"] = decision.message
    else:
        body["deny"] = [v.message for v in decision.violations if v.mode == PolicyMode.ENFORCE]
    body["violations"] = [{"policy": v.policy, "mode": v.mode, "message": v.message} for v in decision.violations]
    if decision.error:
        body["error"] = decision.error
    body["evaluated"] = decision.evaluated
    body["decision"] = decision.record_id
    return body


class PolicyEvalView(APIView):
    """Ask the enabled policies about an input, as a hook would; logged as a dry run, blocks nothing."""

    permission_classes = [IsAuthenticated, IsAdmin]

    @extend_schema(request=EvalRequestSerializer, responses=EvalResponseSerializer)
    def post(self, request: Request) -> Response:
        body = EvalRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        package = body.validated_data["package"]
        hook = hooks.hook_of(package)
        if hook is None:
            raise ValidationError({"package": f"No hook evaluates package {package}."})
        decision = gate.decide(hook, package, dict(body.validated_data["input"]), subject="api eval", dry_run=True)
        return Response(decision_answer(decision))


class PipelineDryRunView(APIView):
    """Every decision a run of the pipeline would meet (execution, each stage, synthetic ones too).

    READ on the pipeline's application; simulating another user needs an admin. Blocks nothing.
    """

    @extend_schema(request=DryRunRequestSerializer, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request, pk: str) -> Response:
        pipeline = get_pipeline_for_user(request.user, pk, "read")
        body = DryRunRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        user = simulated_user(request, body.validated_data.get("user", ""))
        parameters = {str(key): value for key, value in body.validated_data["parameters"].items()}
        report = dry_run(pipeline, parameters=parameters, user=user, acting=request.user)
        return Response(report.to_dict())


def simulated_user(request: Request, username: str) -> Any:
    """The user to decide as: the caller, or (admins only) the named one."""
    if not username or username == request.user.get_username():
        return request.user
    if not is_admin(request.user):
        raise PermissionDenied("Only administrators may simulate another user.")
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise ValidationError({"user": f"There is no user named {username!r}."})
    return user
