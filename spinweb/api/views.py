from __future__ import annotations

from typing import Any, cast

import django_filters
from django.db.models import QuerySet
from knox import views as knox_views
from knox.models import AuthToken
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
    """Create an API token for the caller (HTTP Basic or a browser session). Only its digest is stored."""

    authentication_classes = [BasicAuthentication, SessionAuthentication]

    def get_post_response(self, request: Request, token: str, instance: Any) -> Response:
        # The audited object is the user whose access changed; the token shows only its short key.
        record(
            request.user,
            AuditAction.TOKEN_CREATE,
            cast(Any, request.user),
            source=AuditSource.API,
            detail=f"API token {instance.token_key}… created, expires {instance.expiry.isoformat()}",
        )
        return cast(Response, super().get_post_response(request, token, instance))


def audit_revoke(request: Request, detail: str) -> None:
    record(request.user, AuditAction.TOKEN_REVOKE, cast(Any, request.user), source=AuditSource.API, detail=detail)


class TokenRevokeView(knox_views.LogoutView):
    """Revoke the token this request authenticates with."""

    def post(self, request: Request, format: Any = None) -> Response:
        key = getattr(request.auth, "token_key", "?")
        response = super().post(request, format=format)
        audit_revoke(request, f"API token {key}… revoked")
        return cast(Response, response)


class TokenRevokeAllView(knox_views.LogoutAllView):
    """Revoke every token of the caller."""

    def post(self, request: Request, format: Any = None) -> Response:
        count = AuthToken.objects.filter(user=request.user.pk).count()
        response = super().post(request, format=format)
        audit_revoke(request, f"all {count} API tokens revoked")
        return cast(Response, response)
