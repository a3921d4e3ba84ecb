"""Pipelines and executions over REST: READ to see, WRITE to save, EXECUTE to run and act."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from applications.models import get_application_for_user
from pipelines import actions
from pipelines.documents import execution_document, execution_summary, pipeline_document, version_diff
from pipelines.models import Execution, Pipeline, get_execution_for_user, get_pipeline_for_user
from pipelines.statuses import Status
from spinweb.api import need_for
from spinweb.models import AuditSource

MAX_DOCUMENT_BYTES = 1_000_000


def _document(request: Request) -> dict[str, Any]:
    if len(request.body) > MAX_DOCUMENT_BYTES:
        raise ValidationError({"pipeline": f"The document is {len(request.body)} bytes; the limit is 1 MB."})
    if not isinstance(request.data, dict):
        raise ValidationError({"pipeline": "Send the pipeline as a JSON object."})
    return dict(request.data)


def _invalid(exc: actions.PipelineInvalid) -> Response:
    errors = [{"field": issue.path, "message": issue.message} for issue in exc.issues]
    summary = "; ".join(f"{e['field'] or 'pipeline'}: {e['message']}" for e in errors)
    return Response({"detail": f"Invalid pipeline. {summary}", "errors": errors}, status=status.HTTP_400_BAD_REQUEST)


class PipelineFilter(django_filters.FilterSet):
    application = django_filters.CharFilter(field_name="application__name")

    class Meta:
        model = Pipeline
        fields = ["application", "name"]


@extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
class PipelineViewSet(viewsets.GenericViewSet[Pipeline]):
    """Spinnaker pipeline JSON. Saving validates the whole document and keeps every version."""

    filterset_class = PipelineFilter
    search_fields = ["name"]
    ordering_fields = ["name", "updated_at"]

    def get_queryset(self) -> QuerySet[Pipeline]:
        return Pipeline.objects.visible_to(self.request.user).select_related("application")

    def get_object(self) -> Pipeline:
        need = "execute" if self.action == "run" else need_for(self.request)
        return get_pipeline_for_user(self.request.user, self.kwargs["pk"], need)

    def list(self, request: Request, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response([pipeline_document(p) for p in page or []])

    def retrieve(self, request: Request, pk: str, **kwargs: Any) -> Response:
        return Response(pipeline_document(self.get_object()))

    def create(self, request: Request, **kwargs: Any) -> Response:
        return self._save(request, _document(request), status.HTTP_201_CREATED)

    def update(self, request: Request, pk: str, **kwargs: Any) -> Response:
        pipeline = self.get_object()
        document = {**_document(request), "id": str(pipeline.id), "application": pipeline.application.name}
        return self._save(request, document, status.HTTP_200_OK)

    def _save(self, request: Request, document: dict[str, Any], code: int) -> Response:
        application = document.get("application")
        if isinstance(application, str):
            get_application_for_user(request.user, application, "write")
        try:
            pipeline = actions.save_pipeline(request.user, document, source=AuditSource.API)
        except actions.PipelineInvalid as exc:
            return _invalid(exc)
        warnings = list(pipeline.policy_warnings)
        return Response({**pipeline_document(pipeline), "policyWarnings": warnings}, status=code)

    def destroy(self, request: Request, pk: str, **kwargs: Any) -> Response:
        actions.delete_pipeline(request.user, self.get_object(), source=AuditSource.API)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @action(detail=False, methods=["post"])
    def validate(self, request: Request, **kwargs: Any) -> Response:
        """Check a pipeline document without saving it: every problem, each with its JSON path."""
        issues = actions.validate(_document(request), request.user)
        return Response({"valid": not issues, "errors": [{"field": i.path, "message": i.message} for i in issues]})

    @action(detail=True, methods=["get"])
    def versions(self, request: Request, pk: str, **kwargs: Any) -> Response:
        pipeline = self.get_object()
        rows = pipeline.versions.select_related("saved_by")
        return Response(
            [
                {
                    "version": row.version,
                    "savedAt": row.saved_at.isoformat(),
                    "savedBy": row.saved_by.get_username() if row.saved_by else None,
                }
                for row in rows
            ]
        )

    @action(detail=True, methods=["get"])
    def diff(self, request: Request, pk: str, **kwargs: Any) -> Response:
        """Unified diff between two versions: ``?from=1&to=3`` (to defaults to the current one)."""
        pipeline = self.get_object()
        try:
            old_version = int(request.query_params.get("from", pipeline.version - 1))
            new_version = int(request.query_params.get("to", pipeline.version))
        except ValueError:
            raise ValidationError({"from": "Versions are whole numbers."}) from None
        versions = {row.version: row.config for row in pipeline.versions.filter(version__in=[old_version, new_version])}
        for name, number in (("from", old_version), ("to", new_version)):
            if number not in versions:
                raise ValidationError({name: f"{pipeline.name} has no version {number}."})
        diff = version_diff(
            versions[old_version], versions[new_version], f"version {old_version}", f"version {new_version}"
        )
        return Response({"from": old_version, "to": new_version, "diff": diff})

    @action(detail=True, methods=["post"])
    def restore(self, request: Request, pk: str, **kwargs: Any) -> Response:
        pipeline = self.get_object()
        try:
            version = int(str(request.data.get("version")))
        except (TypeError, ValueError):
            raise ValidationError({"version": "Give the version number to restore."}) from None
        restored = actions.restore_version(request.user, pipeline, version, source=AuditSource.API)
        return Response(pipeline_document(restored))

    @action(detail=True, methods=["post"])
    def run(self, request: Request, pk: str, **kwargs: Any) -> Response:
        """Start a manual run with ``{"parameters": {...}}``."""
        pipeline = self.get_object()
        parameters = request.data.get("parameters") or {}
        if not isinstance(parameters, dict):
            raise ValidationError({"parameters": "Give parameters as an object of names to values."})
        execution = actions.start_execution(request.user, pipeline, parameters=parameters, source=AuditSource.API)
        return Response(execution_document(execution), status=status.HTTP_201_CREATED)


class ExecutionFilter(django_filters.FilterSet):
    application = django_filters.CharFilter(field_name="application__name")
    pipeline = django_filters.UUIDFilter(field_name="pipeline_id")
    status = django_filters.MultipleChoiceFilter(choices=Status.choices)

    class Meta:
        model = Execution
        fields = ["application", "pipeline", "status"]


@extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
class ExecutionViewSet(viewsets.GenericViewSet[Execution]):
    """Runs of pipelines, with their stages and tasks, and the operator actions on them."""

    filterset_class = ExecutionFilter
    ordering_fields = ["created_at"]

    def get_queryset(self) -> QuerySet[Execution]:
        return Execution.objects.visible_to(self.request.user).select_related("application")

    def get_object(self) -> Execution:
        if self.request.method == "GET":
            return get_execution_for_user(self.request.user, self.kwargs["pk"], "read")
        return get_execution_for_user(self.request.user, self.kwargs["pk"], "execute")

    def list(self, request: Request, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response([execution_summary(e) for e in page or []])

    def retrieve(self, request: Request, pk: str, **kwargs: Any) -> Response:
        return Response(execution_document(self.get_object()))

    def _done(self, execution: Execution) -> Response:
        return Response(execution_document(Execution.objects.select_related("application").get(pk=execution.pk)))

    @action(detail=True, methods=["post"])
    def pause(self, request: Request, pk: str, **kwargs: Any) -> Response:
        return self._done(actions.pause(request.user, self.get_object(), source=AuditSource.API))

    @action(detail=True, methods=["post"])
    def resume(self, request: Request, pk: str, **kwargs: Any) -> Response:
        return self._done(actions.resume(request.user, self.get_object(), source=AuditSource.API))

    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str, **kwargs: Any) -> Response:
        reason = str(request.data.get("reason", ""))
        return self._done(actions.cancel(request.user, self.get_object(), reason=reason, source=AuditSource.API))

    @action(detail=True, methods=["post"])
    def restart(self, request: Request, pk: str, **kwargs: Any) -> Response:
        """Restart ``{"stage": id | refId | name}`` and everything downstream of it."""
        stage = _required(request, "stage")
        return self._done(actions.restart_stage(request.user, self.get_object(), stage, source=AuditSource.API))

    @action(detail=True, methods=["post"])
    def judge(self, request: Request, pk: str, **kwargs: Any) -> Response:
        """``{"stage": …, "judgment": "continue" | "stop", "input": "…"}``."""
        execution = self.get_object()
        actions.judge(
            request.user,
            execution,
            _required(request, "stage"),
            _required(request, "judgment"),
            judgment_input=str(request.data.get("input", "")),
            source=AuditSource.API,
        )
        return self._done(execution)

    @action(detail=True, methods=["post"])
    def skip(self, request: Request, pk: str, **kwargs: Any) -> Response:
        """Skip the rest of a wait stage or execution window: ``{"stage": …}``."""
        execution = self.get_object()
        actions.skip_wait(request.user, execution, _required(request, "stage"), source=AuditSource.API)
        return self._done(execution)


def _required(request: Request, name: str) -> str:
    value = request.data.get(name)
    if not isinstance(value, str) or not value:
        raise ValidationError({name: f"{name} is required."})
    return value
