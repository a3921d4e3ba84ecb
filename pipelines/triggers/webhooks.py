"""The webhook endpoints: ``POST /api/v1/webhooks/<source>`` and ``/api/v1/webhooks/git/<provider>``.

They take no login, like Spinnaker's ``/webhooks``: their only power is to start pipelines whose
trigger asked for that source (and, with a ``secret``, for a signature), and every call is
recorded. The answer names the runs started and why the other candidates did not fire; it never
names a pipeline whose secret the caller failed to prove, nor pipelines that do not listen.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from pipelines.triggers.fire import Outcome, Report
from pipelines.triggers.git import EVENT_HEADERS, PROVIDERS, PUSH_EVENTS, PushUnreadable, read_push
from pipelines.triggers.inbound import receive_push, receive_webhook


class Refusal(Exception):
    """A request answered with an error before any trigger is weighed."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@csrf_exempt
@require_POST
def webhook(request: HttpRequest, source: str) -> JsonResponse:
    try:
        body, payload = _read(request)
    except Refusal as refusal:
        return JsonResponse({"detail": refusal.detail}, status=refusal.status)
    return _answer(receive_webhook(source, payload, body, request.headers, _remote(request)))


@csrf_exempt
@require_POST
def git_webhook(request: HttpRequest, provider: str) -> JsonResponse:
    if provider not in PROVIDERS:
        detail = f"Spinweb takes pushes from {' and '.join(PROVIDERS)}, not {provider!r}."
        return JsonResponse({"detail": detail}, status=404)
    try:
        body, payload = _read(request)
        kind = _event_kind(request, provider)
        if kind == "ping":
            return JsonResponse({"message": "pong"})
        if kind != PUSH_EVENTS[provider]:
            return JsonResponse({"message": f"Spinweb acts on push events only; this {kind} event changes nothing."})
        push = read_push(provider, payload)
    except Refusal as refusal:
        return JsonResponse({"detail": refusal.detail}, status=refusal.status)
    except PushUnreadable as exc:
        return JsonResponse({"detail": str(exc)}, status=400)
    return _answer(receive_push(push, payload, body, request.headers, _remote(request)))


def _read(request: HttpRequest) -> tuple[bytes, dict[str, Any]]:
    """The raw body (for signatures) and its JSON object; refuses big, non-JSON and non-object bodies."""
    limit = settings.SPINWEB_WEBHOOK_MAX_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise Refusal(400, "The Content-Length header is not a number.") from None
    if declared > limit:
        raise Refusal(413, _too_big(declared, limit))
    body = request.read(limit + 1)
    if len(body) > limit:
        raise Refusal(413, _too_big(len(body), limit))
    try:
        payload = json.loads(body, parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Refusal(400, f"The body is not JSON ({exc}); send a JSON object.") from None
    if not isinstance(payload, dict):
        raise Refusal(400, "The body must be a JSON object.")
    return body, payload


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _too_big(size: int, limit: int) -> str:
    return f"The body is {size} bytes; webhooks take at most {limit} bytes."


def _event_kind(request: HttpRequest, provider: str) -> str:
    header = EVENT_HEADERS[provider]
    kind = request.headers.get(header)
    if not kind:
        raise Refusal(400, f"The {header} header is missing; {provider} sends it with every delivery.")
    return kind


def _remote(request: HttpRequest) -> str | None:
    address = request.META.get("REMOTE_ADDR") or ""
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None  # a Unix socket or a proxy's placeholder: nothing worth keeping


def _answer(report: Report) -> JsonResponse:
    """Runs started, and reasons for the other candidates the caller may know about."""
    shown = [v for v in report.verdicts if not v.hidden]
    hidden = len(report.verdicts) - len(shown)
    body = {
        "event": report.event.pk,
        "fired": [
            {
                "application": v.candidate.pipeline.application.name,
                "pipeline": v.candidate.pipeline.name,
                "pipelineId": str(v.candidate.pipeline.pk),
                "execution": str(v.execution.pk) if v.execution else None,
            }
            for v in shown
            if v.outcome == Outcome.FIRED
        ],
        "skipped": [
            {
                "application": v.candidate.pipeline.application.name,
                "pipeline": v.candidate.pipeline.name,
                "reason": v.reason,
            }
            for v in shown
            if v.outcome != Outcome.FIRED
        ],
        "rejected": hidden,
    }
    status = 401 if report.verdicts and hidden == len(report.verdicts) else 200
    return JsonResponse(body, status=status)
