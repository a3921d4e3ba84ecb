"""Shared REST API pieces: pagination, error format, the method-to-permission map."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import ProtectedError
from rest_framework import exceptions, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from spinweb.actions import Conflict
from spinweb.permissions import Need


class Pagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 500


def need_for(request: Request) -> Need:
    """GET and HEAD read; every other method writes."""
    return "read" if request.method in ("GET", "HEAD", "OPTIONS") else "write"


def flatten_errors(detail: Any, path: str = "") -> list[dict[str, str]]:
    """DRF's nested error detail as a flat list of ``{"field": "a.b[0]", "message": ...}``."""
    if isinstance(detail, dict):
        return [error for key, value in detail.items() for error in flatten_errors(value, _join(path, key))]
    if isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            return [{"field": path or "non_field_errors", "message": str(item)} for item in detail]
        return [error for index, item in enumerate(detail) for error in flatten_errors(item, f"{path}[{index}]")]
    return [{"field": path or "non_field_errors", "message": str(detail)}]


def _join(path: str, key: Any) -> str:
    name = "non_field_errors" if key == "__all__" else str(key)
    if name.startswith("["):
        return path + name
    return f"{path}.{name}" if path else name


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, Conflict):
        return Response({"detail": exc.messages[0]}, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, ProtectedError):
        return Response({"detail": "It is still in use and cannot be deleted."}, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(exc, exceptions.ValidationError):
        errors = flatten_errors(response.data)
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        response.data = {"detail": f"Invalid input. {summary}", "errors": errors}
    return response
