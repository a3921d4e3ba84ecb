"""The authz hook (``spinnaker.http.authz``): policies decide on every signed-in API and page request.

It runs after Django's authentication and before the view, for requests the built-in checks let
reach a view: anonymous requests are left to them (a page sends the visitor to the login page, the
API answers 401/403), so policies decide for signed-in users only. API requests that carry a token
are authenticated here with the API's own authenticators, since Django's session does not know
them. With no enabled authz policy a request costs one query (the policy-set generation).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from rest_framework import exceptions
from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request
from rest_framework.views import APIView

from policies import gate, inputs
from policies.engines import current_policy_set
from policies.hooks import AUTHZ_PACKAGE, Hook, packages_for

if TYPE_CHECKING:
    from spinweb.permissions import AnyUser

# Paths every visitor must reach whatever the policies say (signing in, webhooks, health).
EXEMPT_PREFIXES = ("/static/", "/login/", "/logout/", "/healthz", "/api/v1/webhooks/", "/admin/login/", "/favicon.ico")
SECRET_KEY = re.compile(r"password|secret|token|credential", re.IGNORECASE)
MASK = "********"
DROPPED_FIELDS = {"csrfmiddlewaretoken"}


class PolicyAuthzMiddleware:
    """Refuse a request the authz policies do not allow: 403 JSON for the API, a 403 page otherwise."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if _exempt(request.path) or not _covered():
            return self.get_response(request)
        user = _user(request)
        if not user.is_authenticated:
            return self.get_response(request)
        decision = gate.decide(
            Hook.AUTHZ,
            AUTHZ_PACKAGE,
            lambda: inputs.authz_input(request.method or "GET", _segments(request.path), _body(request), user),
            subject=f"{request.method} {request.path}",
        )
        if decision.allowed:
            return self.get_response(request)
        message = " ".join(decision.denials) or decision.message or "This request was refused by policy."
        if _is_api(request.path):
            return JsonResponse({"detail": message, "errors": []}, status=403)
        return render(request, "policies/denied.html", {"message": message}, status=403)


def _exempt(path: str) -> bool:
    extra = tuple(getattr(settings, "SPINWEB_POLICY_AUTHZ_EXEMPT", ()) or ())
    return path.startswith(EXEMPT_PREFIXES + extra)


def _covered() -> bool:
    """Whether any enabled policy decides authz (one query: the policy-set generation)."""
    return bool(current_policy_set().covering(packages_for(Hook.AUTHZ, AUTHZ_PACKAGE)))


def _is_api(path: str) -> bool:
    return path.startswith("/api/")


def _user(request: HttpRequest) -> AnyUser:
    """The session's user; for an API request with a token, the token's user."""
    user: AnyUser = request.user
    if user.is_authenticated or not _is_api(request.path) or "HTTP_AUTHORIZATION" not in request.META:
        return user
    wrapped = Request(request)
    for authenticator in APIView().get_authenticators():  # the API's configured authenticators
        if isinstance(authenticator, SessionAuthentication):
            continue  # the session is Django's, already read
        try:
            found = authenticator.authenticate(wrapped)
        except exceptions.APIException:
            return user  # a bad token: the view answers 401
        if found is not None:
            authenticated: AnyUser = found[0]
            return authenticated
    return user


def _segments(path: str) -> list[str]:
    return [part for part in path.split("/") if part]


def _body(request: HttpRequest) -> Any:
    """The JSON body or the form fields, secrets masked; None for anything else."""
    if request.method in {"GET", "HEAD", "OPTIONS"}:
        return None
    content_type = request.content_type or ""
    try:
        if content_type == "application/json" or content_type.endswith("+json"):
            return _masked(json.loads(request.body or b"null"))
        # The API's views parse their own bodies; reading form fields here would consume the stream.
        if not _is_api(request.path) and content_type in {"application/x-www-form-urlencoded", "multipart/form-data"}:
            fields = {key: values[0] if len(values) == 1 else values for key, values in request.POST.lists()}
            return _masked({key: value for key, value in fields.items() if key not in DROPPED_FIELDS})
    except (ValueError, OSError, SuspiciousOperation):
        return None  # not JSON, or too big to read: the view refuses it
    return None


def _masked(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: MASK if SECRET_KEY.search(str(key)) else _masked(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_masked(item) for item in value]
    return value
