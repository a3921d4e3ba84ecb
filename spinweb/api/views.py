from __future__ import annotations

from typing import Any, cast

import django_filters
from django.db.models import QuerySet
from knox.views import LoginView as KnoxLoginView
from rest_framework import serializers, viewsets
from rest_framework.authentication import BasicAuthentication, SessionAuthentication
from rest_framework.request import Request
from rest_framework.response import Response

from spinweb.audit import record
from spinweb.models import AuditAction, AuditEvent, AuditSource


class AuditEventSerializer(serializers.ModelSerializer[AuditEvent]):
    actor = serializers.CharField(source="actor_name", read_only=True)
    changed_fields = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "at",
            "actor",
            "source",
            "action",
            "object_type",
            "object_id",
            "object_repr",
            "application",
            "changed_fields",
            "before",
            "after",
            "detail",
        ]


class AuditEventFilter(django_filters.FilterSet):
    since = django_filters.IsoDateTimeFilter(field_name="at", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="at", lookup_expr="lt")
    actor = django_filters.CharFilter(field_name="actor_name")

    class Meta:
        model = AuditEvent
        fields = ["application", "action", "object_type", "object_id", "source", "actor", "since", "until"]


class AuditEventViewSet(viewsets.ReadOnlyModelViewSet[AuditEvent]):
    """The audit log: admins see every event, others the events of applications they can read."""

    serializer_class = AuditEventSerializer
    filterset_class = AuditEventFilter
    search_fields = ["object_repr", "detail"]
    ordering_fields = ["at"]

    def get_queryset(self) -> QuerySet[AuditEvent]:
        return AuditEvent.objects.visible_to(self.request.user)


class TokenCreateView(KnoxLoginView):
    """Create an API token for the caller (HTTP Basic or a browser session). Only its hash is stored."""

    authentication_classes = [BasicAuthentication, SessionAuthentication]

    def post(self, request: Request, format: Any = None) -> Response:
        response = super().post(request, format=format)
        token = request.user.auth_token_set.order_by("-created").first()  # type: ignore[union-attr]
        if token is not None:
            record(
                request.user,
                AuditAction.TOKEN_CREATE,
                token,
                source=AuditSource.API,
                detail=f"token {token.token_key}… expires {token.expiry}",
            )
        return cast(Response, response)
