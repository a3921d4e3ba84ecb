"""What a decision is, as every caller of :func:`policies.gate.decide` sees it."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied

from policies.hooks import Hook
from policies.models import DecisionResult, PolicyMode


@dataclass(frozen=True)
class Violation:
    """One message of one policy (a ``deny`` entry, or a refusing authz policy's message)."""

    policy: str
    mode: str  # PolicyMode
    message: str

    def __str__(self) -> str:
        return f"{self.policy}: {self.message}"


@dataclass
class Decision:
    hook: Hook
    package: str
    allowed: bool
    result: str  # DecisionResult
    violations: list[Violation] = field(default_factory=list)
    error: str = ""  # the engine failure behind an ERROR result (the gate failed closed, or open)
    message: str = ""  # authz: the refusing policies' messages joined
    evaluated: int = 0  # how many policies were evaluated (0: no enabled policy covers the package)
    record_id: int | None = None  # the PolicyDecision row, when one was written

    @property
    def denials(self) -> list[str]:
        """What blocks, as sentences: each enforcing policy's message, or the engine failure."""
        lines = [f"Denied by policy {v.policy}: {v.message}" for v in self.violations if v.mode == PolicyMode.ENFORCE]
        if self.result == DecisionResult.ERROR and self.error:
            lines.append(self.error)
        return lines if not self.allowed else []

    @property
    def warnings(self) -> list[str]:
        """Messages of warn-mode policies (they never block), and an engine failure that failed open."""
        lines = [f"Policy {v.policy} (warn only): {v.message}" for v in self.violations if v.mode == PolicyMode.WARN]
        if self.allowed and self.result == DecisionResult.ERROR and self.error:
            lines.append(f"{self.error} (this hook fails open)")
        return lines

    def summary(self) -> str:
        return " ".join(self.denials) or " ".join(self.warnings) or "Allowed."


class PolicyDenied(PermissionDenied):
    """A hook refused: the 403 (API/UI) or the refusal a caller reports, with every message."""

    def __init__(self, decision: Decision) -> None:
        self.decision = decision
        super().__init__(" ".join(decision.denials) or "Denied by policy.")
