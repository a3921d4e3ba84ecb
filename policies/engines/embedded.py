"""The default engine: Rego evaluated in-process by regopy (rego-cpp).

One interpreter per policy-set snapshot holds every enabled policy (namespaced, so each answers
for itself) and the data document; each policy's query is compiled into a bundle once, on first
use. regopy is not thread-safe: everything runs under :data:`policies.rego.LOCK`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import regopy

from policies import rego
from policies.engines.base import (
    CompiledPolicy,
    Engine,
    EngineError,
    PolicyAnswer,
    PolicySet,
    answer_from_authz,
    answer_from_deny,
)
from policies.hooks import Hook


def input_json(document: dict[str, Any]) -> str:
    try:
        return json.dumps(document, separators=(",", ":"), allow_nan=False, default=str)
    except (TypeError, ValueError) as exc:
        raise EngineError(f"The input document is not JSON: {exc}.") from None


@dataclass
class _Loaded:
    """The interpreter of one snapshot, its compiled queries, and the input it holds now."""

    policy_set: PolicySet
    interpreter: Any
    broken: dict[int, str]  # policies that failed to load, with the parser's message
    bundles: dict[tuple[int, Hook], Any] = field(default_factory=dict)
    input_text: str | None = None

    def bundle(self, policy: CompiledPolicy, hook: Hook) -> Any:
        key = (policy.pk, hook)
        if key not in self.bundles:
            ref = "data." + rego.namespaced_package(policy.pk, policy.package)
            self.bundles[key] = rego.compile_query(self.interpreter, rego.policy_query(ref, hook))
        return self.bundles[key]

    def run(self, policy: CompiledPolicy, hook: Hook, document: dict[str, Any], text: str) -> dict[str, Any]:
        """Evaluate one policy; the input is handed over only when it differs from the last one
        (the policies of one decision share it)."""
        with rego.LOCK:
            bundle = self.bundle(policy, hook)
            if text != self.input_text:
                self.input_text = None
                rego.set_input(self.interpreter, document)
                self.input_text = text
            return rego.run_bundle(self.interpreter, bundle)


def _load(policy_set: PolicySet) -> _Loaded:
    """An interpreter with every policy that parses; one that does not is recorded, not fatal."""
    broken: dict[int, str] = {}
    while True:
        interpreter = regopy.Interpreter()
        failed = _add_all(interpreter, policy_set, broken)
        if failed is None:
            break
    if policy_set.data:
        with rego.LOCK:
            interpreter.add_data_json(rego.data_json(policy_set.data))
    return _Loaded(policy_set=policy_set, interpreter=interpreter, broken=broken)


def _add_all(interpreter: Any, policy_set: PolicySet, broken: dict[int, str]) -> int | None:
    for policy in policy_set.policies:
        if policy.pk in broken:
            continue
        try:
            rego.add_module(interpreter, f"p{policy.pk}.rego", rego.namespaced_source(policy.pk, policy.source))
        except (regopy.RegoError, rego.RegoSourceError) as exc:
            problems = rego.parse_problems(str(exc), policy.source)
            broken[policy.pk] = "; ".join(str(p) for p in problems)
            return policy.pk
    return None


def answer(bindings: dict[str, Any], hook: Hook, name: str) -> PolicyAnswer:
    """Bindings of :func:`policies.rego.policy_query` → the policy's answer (both engines' rules)."""
    try:
        if hook == Hook.AUTHZ:
            allowed, message = rego.authz_from_bindings(bindings)
            return answer_from_authz(allowed, message, name)
        return answer_from_deny(rego.deny_from_bindings(bindings))
    except ValueError as exc:
        raise EngineError(f"policy {name} {exc}") from None


class EmbeddedEngine(Engine):
    name = "embedded"

    def __init__(self) -> None:
        self._loaded: _Loaded | None = None

    def _current(self, policy_set: PolicySet) -> _Loaded:
        with rego.LOCK:
            loaded = self._loaded
            if loaded is None or (loaded.policy_set is not policy_set and loaded.policy_set != policy_set):
                loaded = self._loaded = _load(policy_set)
            return loaded

    def evaluate(
        self, policy_set: PolicySet, policy: CompiledPolicy, hook: Hook, document: dict[str, Any]
    ) -> PolicyAnswer:
        text = input_json(document)
        loaded = self._current(policy_set)
        if policy.pk in loaded.broken:
            raise EngineError(f"policy {policy.name} could not be loaded: {loaded.broken[policy.pk]}")
        try:
            bindings = loaded.run(policy, hook, document, text)
        except rego.RegoEvaluationError as exc:
            raise EngineError(f"policy {policy.name} could not be evaluated: {exc}") from None
        return answer(bindings, hook, policy.name)


def evaluate_source(
    source: str, hook: Hook, document: dict[str, Any], data: dict[str, Any], *, name: str = "under test"
) -> PolicyAnswer:
    """Evaluate an unsaved source on its own, in a fresh interpreter (test cases, the playground)."""
    try:
        package = rego.package_of(source)
    except rego.RegoSourceError as exc:
        raise EngineError(str(exc)) from None
    interpreter = regopy.Interpreter()
    try:
        rego.add_module(interpreter, "policy.rego", source)
    except regopy.RegoError as exc:
        problems = rego.parse_problems(str(exc), source)
        raise EngineError("The policy does not parse: " + "; ".join(str(p) for p in problems)) from None
    input_json(document)  # refuses what is not JSON, as the gate does
    try:
        with rego.LOCK:
            if data:
                interpreter.add_data_json(rego.data_json(data))
            bundle = rego.compile_query(interpreter, rego.policy_query(f"data.{package}", hook))
            rego.set_input(interpreter, document)
            bindings = rego.run_bundle(interpreter, bundle)
    except rego.RegoEvaluationError as exc:
        raise EngineError(f"The policy could not be evaluated: {exc}") from None
    return answer(bindings, hook, name)
