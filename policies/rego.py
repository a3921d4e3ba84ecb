"""Rego sources as Spinweb handles them: packages, parse errors with line and column,
per-policy namespacing, and the answers of both engines normalised the same way.

regopy (rego-cpp 1.5.2) quirks this module hides:

- ``add_module`` prints a human report of parse errors on fd 1 before raising; we silence it.
- Strings written in Rego (and read from JSON text) are kept with their JSON escapes, strings read
  from a Python ``Input`` are kept raw, so its JSON output breaks on a message with a double quote
  and ``"a\\"b"`` in a policy never equals the same text in the input. Inputs therefore go in with
  their strings pre-escaped (:func:`input_value`; faster than parsing JSON text), data as JSON text
  (``add_data_json``), and answers are read from the raw output string (see :func:`loads`).
- Semantic failures (unknown function …) do not raise: the output is an ``(error …)`` tree.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import regopy
from regopy import rego_shared

from policies.hooks import AUTHZ_PACKAGE, EXECUTION_PACKAGE, SAVE_ALIAS, SAVE_PACKAGE, Hook, hook_of, rule_of

NAMESPACE = "spinweb_policies"
RESERVED_DATA_KEYS = frozenset({"spinweb", "spinnaker", "opa", NAMESPACE, "system"})

_PACKAGE = re.compile(
    r"^[ \t]*package[ \t]+([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)[ \t]*(?:#.*)?\r?$", re.M
)
_ANY_PACKAGE = re.compile(r"^[ \t]*package\b.*$", re.M)
_ERROR = re.compile(rb"\(error \d+:[^|\n]*\|(\d+)\|(\d+)\s*\(errormsg (\d+):")
_ERRORMSG = re.compile(rb"\(errormsg (\d+):")
_ESCAPE = re.compile(r"\\(.)", re.S)
_JSON_ESCAPES = frozenset('"\\/bfnrtu')
NO_DENY = "defines no deny rule"

# regopy is not thread-safe, and fd 1 is process-wide: every use goes under this lock.
LOCK = threading.RLock()


class RegoSourceError(ValueError):
    """The source cannot be used at all (no package line)."""


@dataclass(frozen=True)
class RegoProblem:
    line: int | None
    column: int | None
    message: str

    def __str__(self) -> str:
        if self.line is None:
            return self.message
        return f"line {self.line}, column {self.column}: {self.message}"


def package_of(source: str) -> str:
    """The package the first ``package a.b.c`` line declares."""
    match = _PACKAGE.search(source)
    if match is None:
        if _ANY_PACKAGE.search(source):
            raise RegoSourceError("The package line must name a dotted path such as spinnaker.http.authz.")
        raise RegoSourceError("The policy has no package line (e.g. package spinnaker.execution.pipelines.before).")
    return match.group(1)


def namespaced_package(pk: int, package: str) -> str:
    return f"{NAMESPACE}.p{pk}.{package}"


def namespaced_source(pk: int, source: str) -> str:
    """The source moved under ``spinweb_policies.p<pk>``, its own ``data.<package>`` references too.

    Line numbers are unchanged, so an error in the loaded module points at the user's line.
    """
    package = package_of(source)
    target = namespaced_package(pk, package)
    match = _PACKAGE.search(source)
    assert match is not None
    head = source[: match.start(1)] + target + source[match.end(1) :]
    own = re.compile(r"\bdata\." + re.escape(package) + r"(?![A-Za-z0-9_])")
    return own.sub("data." + target, head)


def query_path(pk: int, package: str, rule: str) -> str:
    return f"data.{namespaced_package(pk, package)}.{rule}"


def policy_query(package_ref: str, hook: Hook) -> str:
    """A query whose bindings are lists: empty when the rule is undefined, ``[value]`` otherwise.

    Comprehensions keep a ``false`` authz answer (a plain binding of ``false`` reads as undefined
    in regopy 1.5.2) and tell an undefined rule from an empty set.
    """
    if hook == Hook.AUTHZ:
        return f"a := [v | v := {package_ref}.allow]; m := [v | v := {package_ref}.message]"
    return f"d := [v | v := {package_ref}.deny]"


# --- regopy plumbing -------------------------------------------------------------------------


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
    """Send fd 1 to /dev/null (regopy prints parse errors there). Hold :data:`LOCK` around it."""
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def add_module(interpreter: Any, name: str, source: str) -> None:
    """Load a module; raises ``regopy.RegoError`` on a parse error, printing nothing."""
    with LOCK, quiet_stdout():
        interpreter.add_module(name, source)


def parse_problems(error_text: str, source: str) -> list[RegoProblem]:
    """``RegoError`` text → problems with line and column (offsets are bytes in ``source``)."""
    raw = error_text.encode("utf-8")
    encoded = source.encode("utf-8")
    problems: list[RegoProblem] = []
    for match in _ERROR.finditer(raw):
        offset, length = int(match.group(1)), int(match.group(3))
        message = raw[match.end() : match.end() + length].decode("utf-8", "replace")
        line, column = line_column(encoded, offset)
        problems.append(RegoProblem(line, column, message))
    if not problems:
        problems.append(RegoProblem(None, None, error_message(error_text) or "The policy could not be parsed."))
    return sorted(set(problems), key=lambda p: (p.line or 0, p.column or 0, p.message))


def line_column(encoded: bytes, offset: int) -> tuple[int, int]:
    before = encoded[: max(0, min(offset, len(encoded)))].decode("utf-8", "replace")
    line = before.count("\n") + 1
    return line, len(before) - (before.rfind("\n") + 1) + 1


def error_message(text: str) -> str:
    """The first ``errormsg`` of an ``(error …)`` tree, else the text's first line."""
    raw = text.encode("utf-8")
    match = _ERRORMSG.search(raw)
    if match is not None:
        return raw[match.end() : match.end() + int(match.group(1))].decode("utf-8", "replace")
    return text.strip().splitlines()[0][:300] if text.strip() else ""


class RegoEvaluationError(Exception):
    """regopy answered with an error or with text that is not JSON."""


def loads(text: str) -> Any:
    """regopy's output text → Python. Invalid escapes (``upper()`` of an escaped string) are kept literally."""
    if text.strip() == "undefined":
        return None
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return json.loads(_ESCAPE.sub(_fix_escape, text))
    except ValueError:
        cause = error_message(text) or "the engine's answer is not JSON"
        raise RegoEvaluationError(cause) from None


def _fix_escape(match: re.Match[str]) -> str:
    char = match.group(1)
    return match.group(0) if char in _JSON_ESCAPES else "\\\\" + char


_NEEDS_ESCAPE = re.compile(r'[\x00-\x1f"\\\x7f]')


def _escaped(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)[1:-1] if _NEEDS_ESCAPE.search(text) else text


def input_value(value: Any) -> Any:
    """A JSON-like value with every string (keys too) in the escaped form Rego literals have."""
    kind = type(value)
    if kind is str:
        return _escaped(value)
    if kind is dict:
        return {_escaped(str(key)): input_value(item) for key, item in value.items()}
    if kind is list or kind is tuple:
        return [input_value(item) for item in value]
    if value is None or kind in (bool, int, float):
        return value
    return _escaped(str(value))


def set_input(interpreter: Any, document: dict[str, Any]) -> None:
    """Hand ``document`` (already checked to be JSON) to the interpreter as ``input``."""
    with LOCK:
        handle = _native_input(document)
        try:
            rego_shared.rego_set_input(interpreter._impl, handle)
        except regopy.RegoError as exc:
            raise RegoEvaluationError(f"the input was refused ({exc})") from None
        finally:
            rego_shared.rego_free_input(handle)


_LIB = rego_shared.rego


@functools.lru_cache(maxsize=4096)
def _short_encoded(text: str) -> bytes:
    return _escaped(text).encode()


def _encoded(text: str) -> bytes:
    """A string as the C API takes it; short ones (keys, statuses, types) come from a cache."""
    return _short_encoded(text) if len(text) <= 64 else _escaped(text).encode()


_INT64 = range(-(2**63), 2**63)


def _native_input(document: dict[str, Any]) -> Any:
    """The input built with the C API directly: regopy's own ``Input`` spends ~4 µs of Python per
    value (a 20-stage run is ~600 values), this ~1 µs, which is most of a decision's time.

    Strings go in escaped, as Rego literals hold them (see :func:`input_value`).
    """
    handle = rego_shared.rego_new_input()
    string, integer, real, boolean, null = (
        _LIB.regoInputString,
        _LIB.regoInputInt,
        _LIB.regoInputFloat,
        _LIB.regoInputBoolean,
        _LIB.regoInputNull,
    )
    item, obj, array = _LIB.regoInputObjectItem, _LIB.regoInputObject, _LIB.regoInputArray
    failed = 0

    def add(value: Any) -> None:
        nonlocal failed
        kind = type(value)
        if kind is str:
            failed |= string(handle, _encoded(value))
        elif kind is dict:
            for key, entry in value.items():
                failed |= string(handle, _encoded(str(key)))
                add(entry)
                failed |= item(handle)
            failed |= obj(handle, len(value))
        elif kind is list or kind is tuple:
            for entry in value:
                add(entry)
            failed |= array(handle, len(value))
        elif kind is bool:
            failed |= boolean(handle, value)
        elif kind is int:
            failed |= integer(handle, value) if value in _INT64 else real(handle, float(value))
        elif kind is float:
            failed |= real(handle, value)
        elif value is None:
            failed |= null(handle)
        else:
            failed |= string(handle, _escaped(str(value)).encode())

    try:
        add(document)
        if failed:
            raise RegoEvaluationError("the input was refused by the engine")
    except BaseException:
        rego_shared.rego_free_input(handle)
        raise
    return handle


def run_bundle(interpreter: Any, bundle: Any) -> dict[str, Any]:
    """Run a compiled query on the input set; the bindings (``{}`` when undefined)."""
    with LOCK:
        output = rego_shared.rego_bundle_query(interpreter._impl, bundle._impl)
        try:
            ok = rego_shared.rego_output_ok(output)
            text = rego_shared.rego_output_string(output)
        finally:
            rego_shared.rego_free_output(output)
    if not ok:
        raise RegoEvaluationError(error_message(text) or "evaluation failed")
    answer = loads(text)
    if answer is None:
        return {}
    if isinstance(answer, list):
        answer = answer[0] if answer else {}
    if not isinstance(answer, dict) or ("bindings" not in answer and "expressions" not in answer):
        raise RegoEvaluationError(error_message(text) or "the engine's answer has no result")
    bindings = answer.get("bindings", {})
    return bindings if isinstance(bindings, dict) else {}


def compile_query(interpreter: Any, query: str) -> Any:
    with LOCK:
        try:
            bundle = interpreter.build(query)
        except regopy.RegoError as exc:
            raise RegoEvaluationError(error_message(str(exc)) or "the query could not be compiled") from None
    if not bundle.ok():
        raise RegoEvaluationError("the query could not be compiled")
    return bundle


# --- answers ---------------------------------------------------------------------------------


def compact(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), sort_keys=True)


def deny_messages(value: Any) -> list[str]:
    """A ``deny`` value → messages. Raises ``ValueError`` (words to follow "policy P") otherwise."""
    if isinstance(value, list):
        return sorted(compact(item) for item in value)
    if isinstance(value, dict) and all(flag is True for flag in value.values()):
        return sorted(value)  # Rego v0 ``deny[msg] { … }`` as regopy reads it
    raise ValueError(f"answered deny = {compact(value)[:200]}, which is not a set of messages")


def deny_from_bindings(bindings: dict[str, Any]) -> list[str]:
    """The messages of a :func:`policy_query` answer; ``ValueError`` (words to follow "policy P")."""
    values = bindings.get("d")
    if not isinstance(values, list) or not values:
        raise ValueError(NO_DENY)
    return deny_messages(values[0])


def authz_from_bindings(bindings: dict[str, Any]) -> tuple[bool, str]:
    """(allowed, message): ``allow`` must be exactly ``true``; ``message`` a string or undefined."""
    allow = bindings.get("a") or []
    message = bindings.get("m") or []
    if not isinstance(allow, list) or not isinstance(message, list):
        raise ValueError("answered something that is not an allow/message pair")
    text = message[0] if message else ""
    if not isinstance(text, str):
        text = compact(text)
    return (bool(allow) and allow[0] is True), text


def data_json(data: dict[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False, default=str)


# --- checking a source -----------------------------------------------------------------------


def check_source(source: str, name: str = "policy.rego") -> list[RegoProblem]:
    """Everything wrong with a policy before it is saved: parse errors (with line and column), a
    package no hook evaluates, a hook policy that can never produce a decision."""
    try:
        package = package_of(source)
    except RegoSourceError as exc:
        return [RegoProblem(1, 1, str(exc))]
    interpreter = regopy.Interpreter()
    try:
        add_module(interpreter, name, source)
    except regopy.RegoError as exc:
        return parse_problems(str(exc), source)
    hook = hook_of(package)
    if hook is None:
        line = source[: source.find("package")].count("\n") + 1
        return [RegoProblem(line, 1, unknown_package_message(package))]
    return decision_problems(interpreter, source, package, hook)


def unknown_package_message(package: str) -> str:
    return (
        f"No hook evaluates package {package}; use one of {SAVE_PACKAGE} (or {SAVE_ALIAS}), "
        f"{EXECUTION_PACKAGE}, spinnaker.execution.stages.before.<stageType>, "
        f"spinnaker.execution.tasks.before.<taskType>, spinnaker.deployment.tasks.before.<operation> "
        f"or {AUTHZ_PACKAGE}."
    )


_RULE_HEAD = "^[ \\t]*(?:default[ \\t]+)?{rule}\\b"


def decision_problems(interpreter: Any, source: str, package: str, hook: Hook) -> list[RegoProblem]:
    rule = rule_of(hook)
    never = RegoProblem(None, None, f"The policy defines no {rule} rule, so it can never produce a decision.")
    if not re.search(_RULE_HEAD.format(rule=rule), source, re.M):
        return [never]
    try:
        bundle = compile_query(interpreter, policy_query(f"data.{package}", hook))
        set_input(interpreter, {})
        bindings = run_bundle(interpreter, bundle)
    except RegoEvaluationError as exc:
        return [RegoProblem(None, None, f"Evaluating the policy on an empty input failed: {exc}.")]
    if hook == Hook.AUTHZ:
        return []
    try:
        deny_from_bindings(bindings)
    except ValueError as exc:
        if str(exc) == NO_DENY:
            return [never]
        return [RegoProblem(None, None, f"On an empty input, the policy {exc}.")]
    return []
