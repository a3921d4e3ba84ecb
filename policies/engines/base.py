"""What every policy engine offers: evaluate one policy of a policy-set snapshot on one input."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

from policies.hooks import Hook


@dataclass(frozen=True)
class CompiledPolicy:
    """One enabled policy as the engine sees it; ``source`` is the original text (not namespaced)."""

    pk: int
    name: str
    package: str
    mode: str
    source: str


@dataclass(frozen=True)
class PolicySet:
    """A snapshot of everything enabled, at a generation of :class:`policies.models.PolicySetState`."""

    generation: int
    policies: tuple[CompiledPolicy, ...]
    data: dict[str, Any]  # the full data document (reference data + data["spinweb"]["accounts"])

    def covering(self, packages: list[str]) -> list[CompiledPolicy]:
        wanted = set(packages)
        return [policy for policy in self.policies if policy.package in wanted]


class EngineError(Exception):
    """The engine could not decide; the message is a sentence naming the cause."""


@dataclass(frozen=True)
class PolicyAnswer:
    """One policy's answer."""

    messages: list[str]  # deny messages (deny hooks) or the refusal message (authz, when not allowed)
    allowed: bool  # deny hooks: not messages; authz: allow == true


class Engine(ABC):
    name: ClassVar[str]

    @abstractmethod
    def evaluate(
        self, policy_set: PolicySet, policy: CompiledPolicy, hook: Hook, document: dict[str, Any]
    ) -> PolicyAnswer:
        """One policy's answer; raises :class:`EngineError` (unreachable, timeout, evaluation error,
        garbage answer)."""


def answer_from_deny(messages: list[str]) -> PolicyAnswer:
    return PolicyAnswer(messages=messages, allowed=not messages)


def answer_from_authz(allowed: bool, message: str, policy_name: str) -> PolicyAnswer:
    """An authz answer; a refusal always carries a message, the policy's own or a default one."""
    if allowed:
        return PolicyAnswer(messages=[], allowed=True)
    return PolicyAnswer(messages=[message or f"Request refused by policy {policy_name}."], allowed=False)
