from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework import status, viewsets
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from applications import actions
from applications.api.serializers import ApplicationSerializer
from applications.models import Application, get_application_for_user
from spinweb.api import need_for
from spinweb.models import AuditSource


class ApplicationViewSet(viewsets.ModelViewSet[Application]):
    """Applications the caller can read; create needs the add-application permission."""

    serializer_class = ApplicationSerializer
    lookup_field = "name"
    lookup_value_regex = "[^/]+"
    filterset_fields = ["owner_email"]
    search_fields = ["name", "description", "owner_email"]
    ordering_fields = ["name", "created_at", "updated_at"]

    def get_queryset(self) -> QuerySet[Application]:
        return Application.objects.visible_to(self.request.user).prefetch_related("grants__group")

    def get_object(self) -> Application:
        return get_application_for_user(self.request.user, self.kwargs["name"], need_for(self.request))

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        if not request.user.has_perm("applications.add_application"):
            raise PermissionDenied("You need the 'add application' permission to create applications.")
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        application = actions.create_application(
            request.user,
            name=data["name"],
            owner_email=data["owner_email"],
            description=data.get("description", ""),
            grants=data.get("grants"),
            source=AuditSource.API,
        )
        return Response(self.get_serializer(application).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        application = self.get_object()
        serializer = self.get_serializer(application, data=request.data, partial=kwargs.get("partial", False))
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        grants = data.pop("grants", None)
        application = actions.update_application(
            request.user, application, changes=data, grants=grants, source=AuditSource.API
        )
        return Response(self.get_serializer(application).data)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        actions.delete_application(request.user, self.get_object(), source=AuditSource.API)
        return Response(status=status.HTTP_204_NO_CONTENT)
