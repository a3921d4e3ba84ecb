"""The remote engine: an OPA server (``OPA_URL``) over ``opa-python-client``.

Spinweb owns a corner of the server: policies with ids ``spinweb-p<pk>`` holding the policy's
source moved under ``package spinweb_policies.p<pk>.<package>`` (so each policy answers for itself,
as in the embedded engine), and one data document per top-level key of the policy set's data
(``/v1/data/<key>``, ``spinweb`` included). Whatever else the server holds is left alone.

A decision reads ``POST /v1/data/spinweb_policies/p<pk>/<package path>/deny`` (authz: the package
document, for ``allow`` and ``message`` in one request) and normalises the value with the
embedded engine's rules, so both engines decide alike. Every failure is an :class:`EngineError`
whose message names the server and the cause; the gate then fails closed (or open, per hook).
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
import urllib3
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from opa_client import errors as opa_errors
from opa_client.opa import OpaClient

from policies import rego
from policies.engines.base import CompiledPolicy, Engine, EngineError, PolicyAnswer, PolicySet
from policies.engines.embedded import answer, input_json
from policies.hooks import Hook

T = TypeVar("T")

POLICY_ID_PREFIX = "spinweb-p"
_OUR_POLICY = re.compile(r"^spinweb-p\d+$")
_CLIENT_ERRORS = (
    opa_errors.RegoParseError,
    opa_errors.DeletePolicyError,
    opa_errors.DeleteDataError,
    opa_errors.PatchDataError,
    opa_errors.PolicyNotFoundError,
)


@dataclass(frozen=True)
class OpaServer:
    """Where the server is, as ``OpaClient`` wants it (its root URL is ``<scheme>://host:port/<version>``)."""

    host: str
    port: int
    ssl: bool
    version: str

    @property
    def label(self) -> str:
        return f"{'https' if self.ssl else 'http'}://{self.host}:{self.port}"


def parse_opa_url(url: str) -> OpaServer:
    """``http(s)://host[:port][/prefix][/v1[/data]]`` → the server; ImproperlyConfigured otherwise."""
    parts = urlsplit(url.strip())
    try:
        port = parts.port
    except ValueError:
        raise ImproperlyConfigured(f"OPA_URL has an invalid port: {url!r}.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ImproperlyConfigured(f"OPA_URL must look like http://127.0.0.1:8181, not {url!r}.")
    path = parts.path.rstrip("/")
    path = path.removesuffix("/v1/data").removesuffix("/v1")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    ssl = parts.scheme == "https"
    return OpaServer(host, port or (443 if ssl else 80), ssl, f"{path.strip('/')}/v1".lstrip("/"))


def policy_id(pk: int) -> str:
    return f"{POLICY_ID_PREFIX}{pk}"


class RemoteEngine(Engine):
    """Decisions from an OPA server; pushes the policy set once per generation (per process).

    Pushes run under a lock, so concurrent decisions on a new generation push it once; decisions
    themselves run unlocked. The generation pushed only moves forward: a decision still holding
    an older snapshot never pushes it back over a newer one.
    """

    name = "remote"

    def __init__(self) -> None:
        self.server = parse_opa_url(settings.OPA_URL)
        self.timeout_ms = int(settings.SPINWEB_POLICY_TIMEOUT_MS)
        self._client = OpaClient(
            host=self.server.host,
            port=self.server.port,
            version=self.server.version,
            ssl=self.server.ssl,
            token=settings.SPINWEB_OPA_TOKEN or None,
            retries=0,  # a decision waits at most one timeout; the gate decides what a failure means
            timeout=self.timeout_ms / 1000,
        )
        self._push_lock = threading.Lock()
        self._pushed: int | None = None  # the generation the server holds completely
        self._newest = -1  # the newest generation a push began with (never push an older one)
        self._data_keys: set[str] = set()
        self._refused: dict[int, str] = {}  # policies of the pushed generation the server refused

    def evaluate(
        self, policy_set: PolicySet, policy: CompiledPolicy, hook: Hook, document: dict[str, Any]
    ) -> PolicyAnswer:
        document = json.loads(input_json(document))  # what the embedded engine sees: dates as text
        self.push(policy_set)
        if policy.pk in self._refused:
            raise EngineError(self._refused[policy.pk])
        found, value = self._ask(policy, hook, document)
        if not found:
            # Undefined: the server lost the policy (restarted without persistence, or reset).
            self.push(policy_set, again=True)
            found, value = self._ask(policy, hook, document)
            if not found:
                raise EngineError(f"{self._server()} still has no policy {policy.name} after it was pushed again.")
        try:
            return answer(_bindings(hook, value), hook, policy.name)
        except EngineError as exc:
            raise EngineError(f"{self._server()} answered, but {exc}.") from None

    # -- pushing -----------------------------------------------------------------------------

    def push(self, policy_set: PolicySet, *, again: bool = False) -> None:
        """Send the policy set unless this generation went already (``again``: send it anyway).

        Idempotent: every request replaces a whole policy or data document. A push that fails
        half-way leaves the generation unpushed, so the next decision sends it all again.
        """
        with self._push_lock:
            if policy_set.generation < self._newest:
                if again:
                    raise EngineError(f"{self._server()} lost a policy while the policy set was being changed.")
                return
            if self._pushed == policy_set.generation and not again:
                return
            self._newest, self._pushed = policy_set.generation, None
            self._push_policies(policy_set)
            self._push_data(policy_set.data)
            self._pushed = policy_set.generation

    def _push_policies(self, policy_set: PolicySet) -> None:
        client = self._client
        refused: dict[int, str] = {}
        for policy in policy_set.policies:
            reason = self._put_policy(policy)
            if reason:
                refused[policy.pk] = reason
        wanted = {policy_id(policy.pk) for policy in policy_set.policies if policy.pk not in refused}
        listed = self._call("could not list its policies", client.get_policies_list)
        if not isinstance(listed, list):
            raise EngineError(f"{self._server()} answered the policy list with something that is not a list.")
        for stale in sorted(str(item) for item in listed if _OUR_POLICY.match(str(item)) and item not in wanted):
            self._call(f"could not delete the old policy {stale}", client.delete_policy, stale)
        self._refused = refused

    def _put_policy(self, policy: CompiledPolicy) -> str:
        """Send one policy; the server's reason when it refuses the Rego (that policy alone then
        fails, as a policy that does not load does in the embedded engine), else ""."""
        source = rego.namespaced_source(policy.pk, policy.source)
        doing = f"refused policy {policy.name}"
        try:
            self._client.update_policy_from_string(source, policy_id(policy.pk))
        except Exception as exc:
            error = self._failure(doing, exc)
            if error is None:
                raise
            if _is_rego_refusal(exc):
                return str(error)
            raise error from None
        return ""

    def _push_data(self, data: dict[str, Any]) -> None:
        client = self._client
        for key, value in data.items():
            if isinstance(value, dict):
                self._call(f"refused data.{key}", client.update_or_create_data, value, key)
            else:  # the client PUTs objects only; a JSON patch at the root places any value
                patch = [{"op": "add", "path": f"/{key}", "value": value}]
                self._call(f"refused data.{key}", client.patch_data, "", patch)
        for key in sorted(self._data_keys - set(data)):
            with contextlib.suppress(EngineError):  # already gone is fine
                self._call(f"could not delete data.{key}", client.delete_data, key)
        self._data_keys = set(data)

    # -- asking ------------------------------------------------------------------------------

    def _ask(self, policy: CompiledPolicy, hook: Hook, document: dict[str, Any]) -> tuple[bool, Any]:
        """(defined, value) of the policy's rule (authz: its package document)."""
        package = rego.namespaced_package(policy.pk, policy.package)
        rule = None if hook == Hook.AUTHZ else "deny"
        body = self._call(f"could not evaluate policy {policy.name}", self._client.query_rule, document, package, rule)
        if not isinstance(body, dict):
            raise EngineError(f"{self._server()} answered policy {policy.name} with JSON that is not an OPA result.")
        if "result" not in body:
            return False, None
        if hook == Hook.AUTHZ and not isinstance(body["result"], dict):
            raise EngineError(f"{self._server()} answered policy {policy.name} with a package that is not an object.")
        return True, body["result"]

    # -- talking -----------------------------------------------------------------------------

    def _server(self) -> str:
        return f"The OPA server at {self.server.label}"

    def _call(self, doing: str, call: Callable[..., T], *args: Any) -> T:
        """Run one client call; every way it can fail becomes an EngineError naming the cause."""
        try:
            return call(*args)
        except Exception as exc:
            error = self._failure(doing, exc)
            if error is None:
                raise
            raise error from None

    def _failure(self, doing: str, exc: Exception) -> EngineError | None:
        cause = _explain(exc, doing, self.timeout_ms)
        return None if cause is None else EngineError(f"{self._server()} {cause}.")


def _explain(exc: Exception, doing: str, timeout_ms: int) -> str | None:
    """A failed client call in words (what follows "The OPA server at …"); None: a bug of ours."""
    if isinstance(exc, requests.exceptions.Timeout) or _timed_out(exc):
        return f"did not answer within {timeout_ms} ms"
    if isinstance(exc, requests.exceptions.JSONDecodeError):
        return f"{doing}: its answer is not JSON"
    if isinstance(exc, requests.exceptions.ConnectionError):
        why = "connection refused" if "refused" in str(exc).lower() else "the connection failed"
        return f"could not be reached ({why})"
    if isinstance(exc, requests.exceptions.HTTPError):
        return f"{doing}: {_status(exc.response)}"
    if isinstance(exc, requests.exceptions.RequestException):
        return f"{doing}: the request failed ({type(exc).__name__})"
    if isinstance(exc, opa_errors.RegoParseError):
        details = "; ".join(str(e.get("message")) for e in exc.errors if isinstance(e, dict) and e.get("message"))
        return f"{doing}: {_opa_words(exc.expression, exc.message)}" + (f" ({details[:300]})" if details else "")
    if isinstance(exc, _CLIENT_ERRORS):
        return f"{doing}: {_opa_words(exc.expression, exc.message)}"
    if isinstance(exc, (AttributeError, TypeError, KeyError)):
        # The client reads OPA's JSON with .get(): an answer of another shape fails there.
        return f"{doing}: its answer is not shaped like OPA's"
    return None


def _bindings(hook: Hook, value: Any) -> dict[str, Any]:
    """The remote value in the shape of :func:`policies.rego.policy_query` bindings (lists: empty = undefined)."""
    if hook == Hook.AUTHZ:
        return {name[0]: ([value[name]] if name in value else []) for name in ("allow", "message")}
    return {"d": [value]}


def _is_rego_refusal(exc: BaseException) -> bool:
    """OPA's 400 for a module that does not parse or compile (not a server failure)."""
    return isinstance(exc, opa_errors.RegoParseError) and exc.expression == "invalid_parameter"


def _timed_out(exc: Exception) -> bool:
    """With no retries, urllib3 wraps a read timeout in MaxRetryError, which requests reports as a
    ConnectionError; the timeout is its reason."""
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    # NewConnectionError (refused) subclasses ConnectTimeoutError in urllib3; it is no timeout.
    refused = isinstance(reason, urllib3.exceptions.NewConnectionError)
    return isinstance(reason, urllib3.exceptions.TimeoutError) and not refused


def _status(response: requests.Response | None) -> str:
    if response is None:
        return "it answered with an error"
    try:
        body = response.json()
    except ValueError:
        return f"it answered HTTP {response.status_code}"
    if isinstance(body, dict):
        return f"it answered HTTP {response.status_code} ({_opa_words(body.get('code'), body.get('message'))})"
    return f"it answered HTTP {response.status_code}"


def _opa_words(code: Any, message: Any) -> str:
    words = ": ".join(str(part) for part in (code, message) if part)
    return words[:300] or "no reason given"
