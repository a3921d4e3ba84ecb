"""Canary configs over REST: Kayenta's canary-config JSON in and out, READ to see, WRITE to change."""

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
from canary import actions
from canary.models import CanaryConfig, get_canary_config_for_user
from pipelines.documents import version_diff
from pipelines.validation import Issue
from spinweb.api import need_for
from spinweb.models import AuditSource

MAX_DOCUMENT_BYTES = 1_000_000


def _document(request: Request) -> dict[str, Any]:
    if len(request.body) > MAX_DOCUMENT_BYTES:
        raise ValidationError({"canaryConfig": f"The document is {len(request.body)} bytes; the limit is 1 MB."})
    if not isinstance(request.data, dict):
        raise ValidationError({"canaryConfig": "Send the canary config as a JSON object."})
    return dict(request.data)


def errors_of(issues: list[Issue]) -> list[dict[str, str]]:
    return [{"field": issue.path, "message": issue.message} for issue in issues]


def _invalid(exc: actions.ConfigInvalid) -> Response:
    errors = errors_of(exc.issues)
    summary = "; ".join(f"{e['field'] or 'canaryConfig'}: {e['message']}" for e in errors)
    return Response(
        {"detail": f"Invalid canary config. {summary}", "errors": errors}, status=status.HTTP_400_BAD_REQUEST
    )


def _version(value: Any, name: str) -> int:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        raise ValidationError({name: "Give a version number."}) from None


class CanaryConfigFilter(django_filters.FilterSet):
    application = django_filters.CharFilter(field_name="application__name")

    class Meta:
        model = CanaryConfig
        fields = ["application", "name"]


@extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
class CanaryConfigViewSet(viewsets.GenericViewSet[CanaryConfig]):
    """Kayenta canary configs. Saving checks the whole document and keeps every version."""

    filterset_class = CanaryConfigFilter
    search_fields = ["name"]
    ordering_fields = ["name", "updated_at"]

    def get_queryset(self) -> QuerySet[CanaryConfig]:
        return CanaryConfig.objects.visible_to(self.request.user).select_related("application", "updated_by")

    def get_object(self) -> CanaryConfig:
        return get_canary_config_for_user(self.request.user, self.kwargs["pk"], need_for(self.request))

    def list(self, request: Request, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response([config.api_document() for config in page or []])

    def retrieve(self, request: Request, pk: str, **kwargs: Any) -> Response:
        return Response(self.get_object().api_document())

    def create(self, request: Request, **kwargs: Any) -> Response:
        document = _document(request)
        self._may_write(document)
        try:
            config = actions.save_config(request.user, document, source=AuditSource.API)
        except actions.ConfigInvalid as exc:
            return _invalid(exc)
        return Response(config.api_document(), status=status.HTTP_201_CREATED)

    def update(self, request: Request, pk: str, **kwargs: Any) -> Response:
        config = self.get_object()
        document = {"applications": [config.application.name], **_document(request)}
        try:
            saved = actions.save_config(request.user, document, source=AuditSource.API, config=config)
        except actions.ConfigInvalid as exc:
            return _invalid(exc)
        return Response(saved.api_document())

    def destroy(self, request: Request, pk: str, **kwargs: Any) -> Response:
        actions.delete_config(request.user, self.get_object(), source=AuditSource.API)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _may_write(self, document: dict[str, Any]) -> None:
        """403/404 before anything else when the caller may not write the document's application."""
        name = actions.application_name(document)
        if name is not None:
            get_application_for_user(self.request.user, name, "write")

    @action(detail=False, methods=["post"], url_path="import")
    def import_config(self, request: Request, **kwargs: Any) -> Response:
        """Kayenta's JSON: updates the config of that name in ``applications[0]``, else creates it."""
        document = _document(request)
        self._may_write(document)
        try:
            config, created = actions.import_config(request.user, document, source=AuditSource.API)
        except actions.ConfigInvalid as exc:
            return _invalid(exc)
        return Response(config.api_document(), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @action(detail=False, methods=["post"])
    def validate(self, request: Request, **kwargs: Any) -> Response:
        """Check a canary config without saving it: every problem, each with its JSON path."""
        issues = actions.validate(_document(request), request.user)
        return Response({"valid": not issues, "errors": errors_of(issues)})

    @action(detail=True, methods=["get"])
    def export(self, request: Request, pk: str, **kwargs: Any) -> Response:
        """The config as Kayenta's canary-config JSON, ready to import here or into Kayenta."""
        config = self.get_object()
        filename = f"{config.application.name}-{config.name}.json".replace('"', "")
        headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
        return Response(config.kayenta_document(), headers=headers)

    @action(detail=True, methods=["get"])
    def versions(self, request: Request, pk: str, **kwargs: Any) -> Response:
        rows = self.get_object().versions.select_related("saved_by")
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
        config = self.get_object()
        old = _version(request.query_params.get("from", config.version - 1), "from")
        new = _version(request.query_params.get("to", config.version), "to")
        documents = {row.version: row.document for row in config.versions.filter(version__in=[old, new])}
        for name, number in (("from", old), ("to", new)):
            if number not in documents:
                raise ValidationError({name: f"{config.name} has no version {number}."})
        text = version_diff(documents[old], documents[new], f"version {old}", f"version {new}")
        return Response({"from": old, "to": new, "diff": text})

    @action(detail=True, methods=["post"])
    def restore(self, request: Request, pk: str, **kwargs: Any) -> Response:
        """Save ``{"version": n}`` again as the newest version."""
        config = self.get_object()
        version = _version(request.data.get("version"), "version")
        try:
            restored = actions.restore_config_version(request.user, config, version, source=AuditSource.API)
        except actions.ConfigInvalid as exc:
            return _invalid(exc)
        return Response(restored.api_document())
