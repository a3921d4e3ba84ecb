"""An HTTP server on loopback standing in for an OPA server. It
emulates OPA's Policy and Data APIs; evaluation is rego-cpp (regopy), not OPA's Go evaluator.

    with OpaEmulator() as opa:
        settings.OPA_URL = opa.url
        ...
        assert opa.count("PUT", "/v1/policies/") == 2

What it speaks (the parts the remote engine uses, with OPA's status codes and bodies):

- ``GET /v1/policies`` → ``{"result": [{"id", "raw"}]}``; ``GET|PUT|DELETE /v1/policies/<id>``
  (PUT takes ``text/plain`` Rego and answers 400 ``invalid_parameter`` with ``errors`` of code
  ``rego_parse_error`` when it does not parse; unknown ids answer 404 ``resource_not_found``).
- ``PUT /v1/data/<path>`` (any JSON value, parents created, 204), ``PATCH /v1/data/<path>`` (JSON
  Patch add/replace/remove, 204), ``DELETE /v1/data/<path>``
  (204, or 404), ``GET /v1/data/<path>`` and ``POST /v1/data/<path>`` with ``{"input": …}`` →
  ``{"result": value}``, or ``{}`` when the document is undefined.
- An optional bearer token: requests without it answer 401 ``unauthorized``.

Switches for failure tests: ``garbage = "text"`` (200 with a body that is not JSON) or
``"shape"`` (200 with JSON of the wrong shape), ``fail = True`` (500 ``internal_error``),
``slow = seconds`` (each request waits that long on an Event that ``close`` sets, so shutdown
never waits it out), and ``forget()`` (drops every policy and all data, as an OPA restart does).
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import unquote, urlsplit

from regopy import Interpreter, RegoError

from policies.rego import LOCK

# regopy is not thread-safe, and the server answers on several threads while the test's own
# process may be using regopy too (the embedded engine): share the application's lock.
_REGO_LOCK = LOCK

_ERROR_AT = re.compile(r"\(error \d+:([^|]*)\|(\d+)\|")
_ERROR_MSG = re.compile(r"\(errormsg (\d+):")


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any = None  # JSON-encodable; None sends no body
    raw: bytes | None = None  # sent as is (garbage)


@dataclass(frozen=True)
class Seen:
    """A request as the emulator saw it (method, path without the query string, headers, body)."""

    method: str
    path: str
    authorization: str
    body: bytes


def _error(status: int, code: str, message: str, **extra: Any) -> Answer:
    return Answer(status, {"code": code, "message": message, **extra})


def _parse_problem(error: RegoError, source: str) -> dict[str, Any]:
    """OPA's ``rego_parse_error`` entry from regopy's error tree (message and row/col)."""
    text = str(error)
    entry: dict[str, Any] = {"code": "rego_parse_error", "message": text.strip()}
    found = _ERROR_MSG.search(text)
    if found:
        start = found.end()
        entry["message"] = text[start : start + int(found.group(1))]
    where = _ERROR_AT.search(text)
    if where:
        before = source[: int(where.group(2))]
        entry["location"] = {
            "file": where.group(1),
            "row": before.count("\n") + 1,
            "col": len(before) - before.rfind("\n"),
        }
    return entry


def _query_for(segments: list[str]) -> str:
    return "x := data" + "".join(f"[{json.dumps(segment)}]" for segment in segments)


class OpaEmulator:
    """The emulated server: policies and data in memory, evaluated by regopy on each query."""

    def __init__(self, token: str = "") -> None:
        self.token = token
        self.policies: dict[str, str] = {}
        self.data: dict[str, Any] = {}
        self.garbage = ""  # "" | "text" | "shape"
        self.fail = False
        self.slow = 0.0
        self._seen: list[Seen] = []
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="opa-emulator", daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def requests(self) -> list[Seen]:
        with self._lock:
            return list(self._seen)

    def count(self, method: str, prefix: str) -> int:
        """How many ``method`` requests had a path starting with ``prefix``."""
        return sum(1 for seen in self.requests if seen.method == method and seen.path.startswith(prefix))

    def forget(self) -> None:
        """Lose every policy and all data, as an OPA server does when it restarts."""
        with self._lock:
            self.policies.clear()
            self.data.clear()

    def __enter__(self) -> OpaEmulator:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._released.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # -- answering ---------------------------------------------------------------------------

    def answer(self, seen: Seen) -> Answer:
        with self._lock:
            self._seen.append(seen)
        if self.slow:
            self._released.wait(self.slow)
        if self.token and seen.authorization != f"Bearer {self.token}":
            return _error(401, "unauthorized", "missing or invalid authorization header")
        if self.fail:
            return _error(500, "internal_error", "emulated server failure")
        if self.garbage == "text":
            return Answer(200, raw=b"<html><body>502 Bad Gateway</body></html>")
        if self.garbage == "shape":
            return Answer(200, ["not", "an", "OPA", "answer"])
        segments = [unquote(part) for part in seen.path.split("/") if part]
        if segments[:2] == ["v1", "policies"]:
            return self._policies(seen, segments[2:])
        if segments[:2] == ["v1", "data"]:
            return self._data(seen, segments[2:])
        return _error(404, "resource_not_found", f"no such endpoint {seen.path}")

    def _policies(self, seen: Seen, rest: list[str]) -> Answer:
        if not rest:
            if seen.method != "GET":
                return _error(405, "invalid_parameter", "method not allowed")
            with self._lock:
                listed = [{"id": key, "raw": raw} for key, raw in sorted(self.policies.items())]
            return Answer(200, {"result": listed})
        policy_id = "/".join(rest)
        with self._lock:
            raw = self.policies.get(policy_id)
            if seen.method == "PUT":
                return self._put_policy(policy_id, seen.body.decode("utf-8", "replace"))
            if raw is None:
                return _error(404, "resource_not_found", f'storage_not_found_error: policy id "{policy_id}"')
            if seen.method == "DELETE":
                del self.policies[policy_id]
                return Answer(200, {})
            return Answer(200, {"result": {"id": policy_id, "raw": raw}})

    def _put_policy(self, policy_id: str, source: str) -> Answer:
        with _REGO_LOCK:
            interpreter = Interpreter()
            try:
                interpreter.add_module(policy_id, source)
            except RegoError as error:
                problem = _parse_problem(error, source)
                return _error(400, "invalid_parameter", "error(s) occurred while compiling module(s)", errors=[problem])
            # Some mistakes (v0 and v1 rule heads mixed) only show when the module is compiled.
            compiled = interpreter.query("x := 1")
            if not compiled.ok():
                problem = {"code": "rego_compile_error", "message": str(compiled).strip()}
                return _error(400, "invalid_parameter", "error(s) occurred while compiling module(s)", errors=[problem])
        self.policies[policy_id] = source
        return Answer(200, {})

    def _data(self, seen: Seen, path: list[str]) -> Answer:
        if seen.method in ("GET", "POST"):
            document = json.loads(seen.body or b"{}") if seen.method == "POST" else {}
            if not isinstance(document, dict):
                return _error(400, "invalid_parameter", "body must be an object")
            return self._evaluate(path, document.get("input"))
        with self._lock:
            if seen.method == "PUT":
                return self._put_data(path, json.loads(seen.body or b"null"))
            if seen.method == "DELETE":
                return self._delete_data(path)
            if seen.method == "PATCH":
                return self._patch_data(path, json.loads(seen.body or b"[]"))
        return _error(405, "invalid_parameter", "method not allowed")

    def _put_data(self, path: list[str], value: Any) -> Answer:
        if not path:
            if not isinstance(value, dict):
                return _error(400, "invalid_parameter", "root document must be an object")
            self.data = value
            return Answer(204)
        node = self.data
        for segment in path[:-1]:
            child = node.setdefault(segment, {})
            if not isinstance(child, dict):
                return _error(400, "invalid_parameter", f"path {'/'.join(path)} crosses a non-object")
            node = child
        node[path[-1]] = value
        return Answer(204)

    def _patch_data(self, path: list[str], operations: Any) -> Answer:
        """JSON Patch (add, replace, remove) with paths relative to the URL's, as OPA applies it."""
        if not isinstance(operations, list):
            return _error(400, "invalid_parameter", "a JSON Patch must be a list of operations")
        for operation in operations:
            if not isinstance(operation, dict) or operation.get("op") not in ("add", "replace", "remove"):
                return _error(400, "invalid_parameter", f"unsupported patch operation {operation!r}")
            target = path + [part for part in str(operation.get("path", "")).split("/") if part]
            if operation["op"] == "remove":
                answer = self._delete_data(target)
            else:
                answer = self._put_data(target, operation.get("value"))
            if answer.status != 204:
                return answer
        return Answer(204)

    def _delete_data(self, path: list[str]) -> Answer:
        node: Any = self.data
        for segment in path[:-1]:
            node = node.get(segment) if isinstance(node, dict) else None
        if not path or not isinstance(node, dict) or path[-1] not in node:
            return _error(404, "resource_not_found", f"storage_not_found_error: /{'/'.join(path)}: document missing")
        del node[path[-1]]
        return Answer(204)

    def _evaluate(self, path: list[str], value: Any) -> Answer:
        with self._lock:
            modules = dict(self.policies)
            data_text = json.dumps(self.data)
        with _REGO_LOCK:
            interpreter = Interpreter()
            for policy_id, source in modules.items():
                interpreter.add_module(policy_id, source)
            # JSON text, not Python objects: regopy keeps escapes alike that way.
            interpreter.add_data_json(data_text)
            interpreter.set_input_term(json.dumps(value if value is not None else {}))
            try:
                output = interpreter.query(_query_for(path))
            except ValueError as error:  # regopy's own output did not parse as JSON
                return _error(500, "internal_error", f"evaluation output is not JSON: {error}")
            text = str(output)
            if not output.ok():
                return _error(500, "internal_error", text.strip())
            # Reading a binding of an undefined result aborts the process: check the text first.
            if text == "undefined":
                return Answer(200, {})
            return Answer(200, {"result": output.results[0].bindings["x"]})


def _handler_for(emulator: OpaEmulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            seen = Seen(self.command, urlsplit(self.path).path, self.headers.get("Authorization", ""), body)
            try:
                answer = emulator.answer(seen)
            except ValueError as error:  # a body that is not JSON, as OPA refuses it
                answer = _error(400, "invalid_parameter", f"body is not JSON: {error}")
            self._send(answer)

        def _send(self, answer: Answer) -> None:
            content = answer.raw if answer.raw is not None else b""
            if answer.raw is None and answer.body is not None:
                content = json.dumps(answer.body).encode()
            self.send_response(answer.status)
            kind = "text/html" if answer.raw is not None else "application/json"
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            # A client that timed out has gone; its answer has nowhere to go.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(content)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: tests read ``emulator.requests`` instead."""

    return Handler
