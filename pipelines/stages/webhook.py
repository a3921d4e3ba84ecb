"""``webhook``: call an HTTP endpoint; with ``waitForCompletion``, poll until it reports an end.

As Spinnaker's webhook stage. ``createWebhook`` sends ``method`` (POST by default) to ``url``
with ``payload`` (JSON) and ``customHeaders``; a 2xx or 3xx answer succeeds (redirects are not
followed) and lands in the stage's context and outputs as ``webhook`` (statusCode,
statusCodeValue, headers, body). 5xx, 429, ``retryStatusCodes``, refused connections, DNS
failures and timeouts are retried with the engine's backoff; other answers and
``failFastStatusCodes`` fail the stage. With ``waitForCompletion``, ``monitorWebhook`` polls the
status URL (``statusUrlResolution``: the same URL, the answer's Location header, or the URL at
``statusUrlJsonPath`` in its body) and reads the status at ``statusJsonPath``: one of
``successStatuses`` succeeds, ``terminalStatuses`` or ``canceledStatuses`` fail, anything else
polls again; a number is a percentage, 100 meaning done. Only hosts that
``SPINWEB_WEBHOOK_ALLOWED_HOSTS`` allows are called (``pipelines.outbound``), for every URL.

Spinweb's own choices: polls come every ``statusPollIntervalSeconds`` (2 s, 15 s once the
monitor has run a minute, when unset); a canceled status fails the stage, since a task cannot
end CANCELED here; ``customHeaders`` are evaluated when the request is sent, so the values of
headers that carry credentials are never stored, and the context shows them masked; the create
request carries the task's idempotency key as ``Idempotency-Key``, the same on every attempt.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from http import HTTPStatus
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

from pipelines import outbound
from pipelines.engine import clock
from pipelines.engine.context import scope_for
from pipelines.engine.types import (
    StageType,
    Task,
    TaskContext,
    TaskResult,
    TransientError,
    register_stage,
    register_task,
)
from pipelines.expressions import evaluate_tree
from pipelines.jsonpath import parse_json_path, read_json_path
from pipelines.models import StageExecution
from pipelines.statuses import Status

logger = logging.getLogger(__name__)

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
RESOLUTIONS = ("getMethod", "locationHeader", "webhookResponse")
STATUS_LISTS = ("successStatuses", "canceledStatuses", "terminalStatuses")
CODE_LISTS = ("retryStatusCodes", "failFastStatusCodes")
JSON_PATHS = ("statusJsonPath", "statusUrlJsonPath", "progressJsonPath")
# The most of an answer's body kept in the context; the status is read from the whole answer.
KEEP_BYTES = 65_536
POLL = timedelta(seconds=2)
SLOW_POLL, SLOW_AFTER = timedelta(seconds=15), timedelta(minutes=1)
# Header names holding any of these carry credentials: never stored, logged or shown.
SENSITIVE_WORDS = ("auth", "cookie", "token", "secret", "password", "api-key", "apikey")
MASK = "****"


class _Refused(Exception):
    """The call cannot be made or its answer is a failure: the task ends TERMINAL with this message."""


# Save-time checks -------------------------------------------------------------------------


@register_stage
class WebhookStage(StageType):
    type = "webhook"
    label = "Webhook"
    unevaluated = frozenset({"customHeaders"})

    def check(self, stage: Mapping[str, Any]) -> list[tuple[str, str]]:
        issues = _check_url(stage, "url", required=True) + _check_url(stage, "cancelEndpoint", required=False)
        issues += _check_method(stage, "method") + _check_method(stage, "cancelMethod")
        issues += _check_headers(stage.get("customHeaders")) + _check_waiting(stage)
        for key in STATUS_LISTS:
            if stage.get(key) is not None and not isinstance(stage[key], str):
                issues.append((key, f"{key} must be text: statuses separated by commas."))
        for key in CODE_LISTS:
            issues += _check_codes(stage, key)
        issues += _check_seconds(stage, "waitBeforeMonitor", 0) + _check_seconds(stage, "statusPollIntervalSeconds", 1)
        return issues

    def tasks(self, stage: StageExecution) -> list[str]:
        return ["createWebhook", "monitorWebhook"] if _waits(stage.context) else ["createWebhook"]


def _is_expression(value: Any) -> bool:
    return isinstance(value, str) and "${" in value


def _check_url(stage: Mapping[str, Any], key: str, *, required: bool) -> list[tuple[str, str]]:
    value = stage.get(key)
    if value is None or value == "":
        return [(key, f"{key} is required: the URL to call.")] if required else []
    if not isinstance(value, str):
        return [(key, f"{key} must be text: the URL to call.")]
    parts = urlsplit(value.strip())
    if _is_expression(value) or (parts.scheme.lower() in outbound.SCHEMES and parts.hostname):
        return []
    return [(key, f"{key} must be an http or https URL with a host, such as https://example.com/hook.")]


def _check_method(stage: Mapping[str, Any], key: str) -> list[tuple[str, str]]:
    value = stage.get(key)
    if value is None or _is_expression(value) or (isinstance(value, str) and value.upper() in METHODS):
        return []
    return [(key, f"{key} must be one of {', '.join(METHODS)}.")]


def _check_headers(headers: Any) -> list[tuple[str, str]]:
    if headers is None:
        return []
    if not isinstance(headers, dict):
        return [("customHeaders", "customHeaders must be an object of header names and values.")]
    issues = []
    for name, value in headers.items():
        values = value if isinstance(value, list) else [value]
        if not all(isinstance(item, str | int | float) and not isinstance(item, bool) for item in values):
            issues.append((_header_path(name), "A header value must be text or a list of texts."))
        elif any("\r" in str(item) or "\n" in str(item) for item in values):
            issues.append((_header_path(name), "A header value must be a single line."))
    return issues


def _header_path(name: str) -> str:
    return f"customHeaders.{name}" if re.fullmatch(r"[A-Za-z_$][\w$]*", name) else f"customHeaders[{json.dumps(name)}]"


def _check_waiting(stage: Mapping[str, Any]) -> list[tuple[str, str]]:
    issues = []
    waits = stage.get("waitForCompletion")
    if waits is not None and not isinstance(waits, bool) and not _is_expression(waits):
        issues.append(("waitForCompletion", "waitForCompletion must be true or false."))
    resolution = stage.get("statusUrlResolution")
    if resolution is not None and resolution not in RESOLUTIONS and not _is_expression(resolution):
        issues.append(("statusUrlResolution", f"statusUrlResolution must be one of {', '.join(RESOLUTIONS)}."))
    for key in JSON_PATHS:
        issues += _check_json_path(stage, key)
    if waits is True and not stage.get("statusJsonPath"):
        issues.append(("statusJsonPath", "statusJsonPath is required with waitForCompletion: where the status is."))
    if waits is True and resolution == "webhookResponse" and not stage.get("statusUrlJsonPath"):
        issues.append(
            ("statusUrlJsonPath", "statusUrlJsonPath is required when statusUrlResolution is webhookResponse.")
        )
    return issues


def _check_json_path(stage: Mapping[str, Any], key: str) -> list[tuple[str, str]]:
    value = stage.get(key)
    if value is None or value == "" or _is_expression(value):
        return []
    if not isinstance(value, str):
        return [(key, f"{key} must be a JSON path such as $.status.")]
    try:
        parse_json_path(value)
    except ValueError as exc:
        return [(key, str(exc))]
    return []


def _check_codes(stage: Mapping[str, Any], key: str) -> list[tuple[str, str]]:
    codes = stage.get(key)
    if codes is None:
        return []
    if not isinstance(codes, list):
        return [(key, f"{key} must be a list of HTTP status codes.")]
    return [
        (f"{key}[{index}]", "A status code must be a whole number from 100 to 599.")
        for index, code in enumerate(codes)
        if not (isinstance(code, int) and not isinstance(code, bool) and 100 <= code <= 599)
    ]


def _check_seconds(stage: Mapping[str, Any], key: str, minimum: int) -> list[tuple[str, str]]:
    value = stage.get(key)
    if value is None or _is_expression(value):
        return []
    seconds = _seconds(value)
    if seconds is None or seconds < minimum:
        return [(key, f"{key} must be a number of seconds, {minimum} or more.")]
    return []


def _seconds(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _waits(context: Mapping[str, Any]) -> bool:
    value = context.get("waitForCompletion")
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


# Requests and answers --------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None

    def __str__(self) -> str:
        return f"{self.method} {self.url}"


def _build_call(
    ctx: TaskContext, method: Any, url: Any, payload: Any, *, fields: tuple[str, str], key: str | None = None
) -> Call:
    body = None if payload is None else payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
    defaults = {"Idempotency-Key": key} if key else {}
    if body is not None:
        defaults["Content-Type"] = "application/json"
    headers = _custom_headers(ctx)
    given = {name.lower() for name in headers}
    headers.update({name: value for name, value in defaults.items() if name.lower() not in given})
    return Call(_method(method, fields[0]), _url(url, fields[1]), headers, body)


def _method(value: Any, field: str) -> str:
    method = "POST" if value in (None, "") else str(value).upper()
    if method not in METHODS:
        raise _Refused(f"{field} must be one of {', '.join(METHODS)}, not {value!r}.")
    return method


def _url(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Refused(f"{field} is empty: there is nothing to call.")
    if "${" in value:
        raise _Refused(f"{field} is still {value!r}: its expression did not evaluate (see the expression failures).")
    return value.strip()


def _custom_headers(ctx: TaskContext) -> dict[str, str]:
    """``customHeaders`` evaluated now, so the values are sent without being stored anywhere."""
    raw = ctx.stage.config.get("customHeaders") or {}
    if not isinstance(raw, dict):
        raise _Refused("customHeaders must be an object of header names and values.")
    evaluated = raw
    if "${" in json.dumps(raw):
        evaluated, failures = evaluate_tree(raw, scope_for(ctx.execution, ctx.stage), "customHeaders")
        if failures:
            raise _Refused(
                f"The expression {failures[0].expression} in {failures[0].path} failed: {failures[0].reason}"
            )
    return {str(name): _header_value(str(name), value) for name, value in evaluated.items() if value is not None}


def _header_value(name: str, value: Any) -> str:
    text = ", ".join(str(item) for item in value) if isinstance(value, list) else str(value)
    if "\r" in text or "\n" in text or isinstance(value, dict):
        raise _Refused(f"The value of the header {name} must be a single line of text.")
    return text


def sensitive(name: str) -> bool:
    return any(word in name.lower() for word in SENSITIVE_WORDS)


def masked_headers(headers: Any) -> Any:
    """Headers as shown in the context: the values of credential-carrying headers hidden."""
    if not isinstance(headers, dict):
        return headers
    return {name: MASK if sensitive(str(name)) else value for name, value in headers.items()}


def _exchange(call: Call) -> outbound.Reply:
    """Send ``call``: a refusal raises _Refused, a failure worth retrying TransientError."""
    try:
        return outbound.send(call.method, call.url, headers=call.headers, body=call.body)
    except outbound.OutboundRefused as exc:
        raise _Refused(f"{call} was not sent: {exc}") from None
    except outbound.OutboundFailed as exc:
        if exc.transient:
            raise TransientError(f"{call}: {exc}") from None
        raise _Refused(f"{call}: {exc}") from None


def _check_answer(call: Call, reply: outbound.Reply, context: Mapping[str, Any]) -> None:
    """Accept 2xx and 3xx; raise TransientError for answers worth retrying, _Refused for the rest."""
    code = reply.status
    said = f"{call} answered {code} {reply.reason}".rstrip()
    if code in _codes(context, "failFastStatusCodes"):
        raise _Refused(f"{said} (listed in failFastStatusCodes){_excerpt(reply)}")
    if 200 <= code < 400:
        return
    if code >= 500 or code == 429 or code in _codes(context, "retryStatusCodes"):
        raise TransientError(f"{said}{_excerpt(reply)}")
    raise _Refused(f"{said}{_excerpt(reply)}")


def _codes(context: Mapping[str, Any], key: str) -> set[int]:
    codes = context.get(key)
    return {code for code in codes if isinstance(code, int)} if isinstance(codes, list) else set()


def _excerpt(reply: outbound.Reply) -> str:
    text = " ".join(reply.text[:400].split())
    if not text:
        return ""
    return f": {text[:300]}…" if len(text) > 300 else f": {text}"


def response_view(reply: outbound.Reply) -> dict[str, Any]:
    """An answer as the context keeps it: credential headers dropped, the body parsed and capped."""
    try:
        name = HTTPStatus(reply.status).name
    except ValueError:
        name = str(reply.status)
    headers = {key: value for key, value in reply.headers.items() if not sensitive(key)}
    view: dict[str, Any] = {"statusCode": name, "statusCodeValue": reply.status, "headers": headers}
    if len(reply.content) > KEEP_BYTES or not reply.complete:
        view["body"] = replace(reply, content=reply.content[:KEEP_BYTES]).text
        view["note"] = f"The body is larger than {KEEP_BYTES // 1024} KB: only its start is kept, as text."
    else:
        view["body"] = parsed_body(reply)
    return view


def parsed_body(reply: outbound.Reply) -> Any:
    """JSON when the body is JSON, else its text (None when empty)."""
    text = reply.text
    if not text.strip():
        return None
    content_type = reply.headers.get("Content-Type", "")
    if "json" in content_type or text.lstrip()[:1] in ("{", "["):
        try:
            return json.loads(text)
        except ValueError:
            pass
    return text


def _loggable(url: str) -> str:
    """A URL without its query or credentials, which may hold tokens."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))


# createWebhook ---------------------------------------------------------------------------


@register_task
class CreateWebhookTask(Task):
    """Sends the request once per attempt, with the task's idempotency key as ``Idempotency-Key``.

    A worker that dies after the far side acted but before the result was recorded leaves the
    task to another worker, which sends the same key again: the far side can drop the repeat.
    The engine records a result's context together with the task's end, in one transaction, so
    a task whose answer was recorded is never run again (a restart starts a new task and key).
    """

    name = "createWebhook"
    # One call may take longer than the default claim (connect + read timeouts).
    lease = timedelta(seconds=outbound.CONNECT_TIMEOUT + outbound.READ_TIMEOUT + 15)
    timeout = timedelta(minutes=15)

    def run(self, ctx: TaskContext) -> TaskResult:
        context = ctx.stage.context
        try:
            call = _build_call(
                ctx,
                context.get("method"),
                context.get("url"),
                context.get("payload"),
                fields=("method", "url"),
                key=ctx.idempotency_key,
            )
            reply = _exchange(call)
        except _Refused as exc:
            return _created(ctx, Status.TERMINAL, str(exc), {"error": str(exc)})
        logger.info("Webhook stage %s: %s %s answered %s", ctx.stage.pk, call.method, _loggable(call.url), reply.status)
        webhook = {**response_view(reply), "idempotencyKey": ctx.idempotency_key}
        try:
            _check_answer(call, reply, context)
            endpoint = _status_endpoint(call, reply, context) if _waits(context) else None
        except _Refused as exc:
            return _created(ctx, Status.TERMINAL, str(exc), {**webhook, "error": str(exc)})
        message = f"{call} answered {reply.status} {reply.reason}".rstrip() + "."
        if endpoint is None:
            return _created(ctx, Status.SUCCEEDED, message, webhook)
        webhook["statusEndpoint"] = endpoint
        return _created(ctx, Status.SUCCEEDED, message, webhook, statusEndpoint=endpoint)


def _created(ctx: TaskContext, status: str, message: str, webhook: dict[str, Any], **more: Any) -> TaskResult:
    context: dict[str, Any] = {"webhook": webhook, **more}
    if "customHeaders" in ctx.stage.config:
        context["customHeaders"] = masked_headers(ctx.stage.config["customHeaders"])
    outputs = {"webhook": webhook} if status == Status.SUCCEEDED else {}
    return TaskResult(status, message=message, context=context, outputs=outputs)


def _status_endpoint(call: Call, reply: outbound.Reply, context: Mapping[str, Any]) -> str:
    """Where to poll, as ``statusUrlResolution`` says; a relative URL is taken from the called one."""
    resolution = context.get("statusUrlResolution") or "getMethod"
    if resolution == "getMethod":
        return call.url
    if resolution == "locationHeader":
        found: Any = reply.headers.get("Location")
        missing = f"{call} answered without the Location header that statusUrlResolution locationHeader needs."
    elif resolution == "webhookResponse":
        path = str(context.get("statusUrlJsonPath") or "")
        found = _lookup(parsed_body(reply), path)
        missing = f"The answer of {call} has no status URL at {path} (statusUrlJsonPath)."
    else:
        raise _Refused(f"statusUrlResolution must be one of {', '.join(RESOLUTIONS)}, not {resolution!r}.")
    if not isinstance(found, str) or not found.strip():
        raise _Refused(missing)
    return _absolute(call.url, found.strip())


def _lookup(document: Any, path: str) -> Any:
    try:
        return read_json_path(document, path)
    except (LookupError, ValueError):
        return None


def _absolute(called: str, status_url: str) -> str:
    resolved = urljoin(called, status_url)
    before, after = urlsplit(called), urlsplit(resolved)
    if after.hostname == before.hostname and after.scheme != before.scheme:
        # As Spinnaker: on the same host keep the scheme that was called; a service behind a
        # TLS-terminating proxy often does not know the scheme it is reached by.
        return urlunsplit(after._replace(scheme=before.scheme))
    return resolved


# monitorWebhook --------------------------------------------------------------------------


@register_task
class MonitorWebhookTask(Task):
    """Polls the status URL with GET until the status says done; never waits inside a worker."""

    name = "monitorWebhook"
    lease = timedelta(seconds=outbound.CONNECT_TIMEOUT + outbound.READ_TIMEOUT + 15)
    timeout = timedelta(hours=1)  # Spinnaker's; stageTimeoutMs overrides it
    # Polls that fail (5xx, refused) count here for the whole wait, not only in a row.
    max_transient_failures = 20

    def run(self, ctx: TaskContext) -> TaskResult:
        context = ctx.stage.context
        webhook = dict(context.get("webhook") or {})
        pause = _pause_before_monitor(ctx, webhook)
        if pause is not None:
            return TaskResult(
                Status.RUNNING, message="Waiting before the first poll (waitBeforeMonitor).", wake_at=pause
            )
        endpoint = webhook.get("statusEndpoint") or context.get("statusEndpoint")
        try:
            call = _build_call(ctx, "GET", endpoint, None, fields=("method", "statusEndpoint"))
            reply = _exchange(call)
        except _Refused as exc:
            return _polled(Status.TERMINAL, str(exc), webhook, {"error": str(exc)})
        return _judge_poll(ctx, call, reply, webhook)

    def on_cancel(self, ctx: TaskContext) -> None:
        """As Spinnaker: when the run is canceled, call ``cancelEndpoint`` once, best effort."""
        context = ctx.stage.context
        endpoint = context.get("cancelEndpoint")
        if not endpoint or "statusCodeValue" not in (context.get("webhook") or {}):
            return  # nothing to cancel: the webhook was never called
        try:
            call = _build_call(
                ctx,
                context.get("cancelMethod"),
                endpoint,
                context.get("cancelPayload"),
                fields=("cancelMethod", "cancelEndpoint"),
            )
            reply = _exchange(call)
        except (_Refused, TransientError) as exc:
            logger.warning("Webhook stage %s: the cancel call failed: %s", ctx.stage.pk, exc)
            return
        if reply.status >= 400:
            logger.warning("Webhook stage %s: the cancel call answered %s", ctx.stage.pk, reply.status)


def _judge_poll(ctx: TaskContext, call: Call, reply: outbound.Reply, webhook: dict[str, Any]) -> TaskResult:
    """Done, failed, or poll again later, from one answer of the status URL."""
    context = ctx.stage.context
    monitor = response_view(reply)
    try:
        _check_answer(call, reply, context)
        status = _reported(call, reply, context, "statusJsonPath")
    except _Refused as exc:
        return _polled(Status.TERMINAL, str(exc), webhook, {**monitor, "error": str(exc)})
    monitor["status"] = status
    progress = _progress(reply, context)
    if progress:
        monitor["progressMessage"] = progress
    if isinstance(status, int | float) and not isinstance(status, bool):
        monitor["percentComplete"] = status
    outcome, message = _verdict(status, context)
    if outcome is not None:
        return _polled(outcome, message, webhook, monitor)
    result = _polled(Status.RUNNING, f"The webhook reports {status!r}.", webhook, monitor)
    result.wake_at = clock.now() + _poll_interval(ctx)
    return result


def _polled(status: str, message: str, webhook: dict[str, Any], monitor: dict[str, Any]) -> TaskResult:
    updated = {**webhook, "monitor": monitor}
    outputs = {"webhook": updated} if status == Status.SUCCEEDED else {}
    return TaskResult(status, message=message, context={"webhook": updated}, outputs=outputs)


def _pause_before_monitor(ctx: TaskContext, webhook: Mapping[str, Any]) -> datetime | None:
    seconds = _seconds(ctx.stage.context.get("waitBeforeMonitor"))
    if not seconds or "monitor" in webhook or ctx.task.started_at is None:
        return None
    until = ctx.task.started_at + timedelta(seconds=seconds)
    return until if clock.now() < until else None


def _poll_interval(ctx: TaskContext) -> timedelta:
    given = _seconds(ctx.stage.context.get("statusPollIntervalSeconds"))
    if given is not None:
        return timedelta(seconds=max(given, 1.0))
    started = ctx.task.started_at or clock.now()
    return SLOW_POLL if clock.now() - started > SLOW_AFTER else POLL


def _reported(call: Call, reply: outbound.Reply, context: Mapping[str, Any], key: str) -> Any:
    """The single value at ``context[key]`` in the answer's body."""
    path = str(context.get(key) or "")
    cut = "" if reply.complete else " (the answer was cut: it is larger than 1 MB)"
    try:
        value = read_json_path(parsed_body(reply), path)
    except ValueError as exc:
        raise _Refused(f"{key}: {exc}") from None
    except LookupError:
        raise _Refused(f"The answer of {call} has nothing at {path} ({key}){cut}.") from None
    if isinstance(value, dict | list) or value is None:
        raise _Refused(f"{path} ({key}) in the answer of {call} is {json.dumps(value)[:100]}, not a single value.")
    return value


def _progress(reply: outbound.Reply, context: Mapping[str, Any]) -> str | None:
    path = context.get("progressJsonPath")
    value = _lookup(parsed_body(reply), path) if isinstance(path, str) and path else None
    return value if isinstance(value, str) and value else None


def _verdict(status: Any, context: Mapping[str, Any]) -> tuple[str | None, str]:
    """SUCCEEDED, TERMINAL or None (poll again) for a reported status, and why it failed."""
    if isinstance(status, int | float) and not isinstance(status, bool):
        return (Status.SUCCEEDED, "") if status == 100 else (None, "")
    text = json.dumps(status) if isinstance(status, bool) else str(status)
    if text.upper() in _statuses(context.get("terminalStatuses")):
        return Status.TERMINAL, f"The webhook reported {text!r}, one of terminalStatuses."
    if text.upper() in _statuses(context.get("canceledStatuses")):
        return Status.TERMINAL, f"The webhook reported canceled: {text!r} is one of canceledStatuses."
    if text.upper() in _statuses(context.get("successStatuses")):
        return Status.SUCCEEDED, ""
    return None, ""


def _statuses(value: Any) -> set[str]:
    return {item.strip().upper() for item in value.split(",") if item.strip()} if isinstance(value, str) else set()
