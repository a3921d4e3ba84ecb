"""Policy test cases: an input, optional data, and the expected decision.

A case is ``{"name", "input": {...}, "data": {...}?, "expect": {"allowed": bool?, "deny": [..]?,
"message": str?}}``; ``data`` is merged over the live data document (objects key by key).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from policies.engines import EngineError, data_document
from policies.engines.base import PolicyAnswer
from policies.engines.embedded import evaluate_source
from policies.hooks import Hook, hook_of

if TYPE_CHECKING:
    from policies.models import Policy

CASE_KEYS = {"name", "input", "data", "expect"}
EXPECT_KEYS = {"allowed", "deny", "message"}


@dataclass
class CaseResult:
    name: str
    passed: bool
    detail: str


def case_issues(cases: Any) -> list[tuple[str, str]]:
    """What is wrong with the shape of a list of cases, as (field path, sentence)."""
    if not isinstance(cases, list):
        return [("tests", "Test cases must be a list of objects.")]
    issues: list[tuple[str, str]] = []
    for index, case in enumerate(cases):
        issues.extend(_one_case_issues(f"tests[{index}]", case))
    names = [case.get("name") for case in cases if isinstance(case, dict)]
    for index, name in enumerate(names):
        if name in names[:index]:
            issues.append((f"tests[{index}].name", f"Another test case is already named {name!r}."))
    return issues


def _one_case_issues(path: str, case: Any) -> list[tuple[str, str]]:
    if not isinstance(case, dict):
        return [(path, "A test case must be an object with name, input and expect.")]
    issues = [(f"{path}.{key}", f"Unknown key {key!r}; a case has name, input, data and expect.") for key in case]
    issues = [issue for issue in issues if issue[0].rsplit(".", 1)[1] not in CASE_KEYS]
    if not isinstance(case.get("name"), str) or not case["name"].strip():
        issues.append((f"{path}.name", "A test case needs a name."))
    if not isinstance(case.get("input"), dict):
        issues.append((f"{path}.input", "The input must be a JSON object."))
    if "data" in case and not isinstance(case["data"], dict):
        issues.append((f"{path}.data", "The data must be a JSON object."))
    return issues + _expect_issues(f"{path}.expect", case.get("expect"))


def _expect_issues(path: str, expect: Any) -> list[tuple[str, str]]:
    if not isinstance(expect, dict) or not expect:
        return [(path, "expect must be an object with allowed, deny and/or message.")]
    issues = [(f"{path}.{key}", f"Unknown key {key!r}; expect has allowed, deny and message.") for key in expect]
    issues = [issue for issue in issues if issue[0].rsplit(".", 1)[1] not in EXPECT_KEYS]
    if "allowed" in expect and not isinstance(expect["allowed"], bool):
        issues.append((f"{path}.allowed", "allowed must be true or false."))
    deny = expect.get("deny", [])
    if not isinstance(deny, list) or not all(isinstance(m, str) for m in deny):
        issues.append((f"{path}.deny", "deny must be a list of messages."))
    if "message" in expect and not isinstance(expect["message"], str):
        issues.append((f"{path}.message", "message must be a string."))
    return issues


def merged(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    result = dict(base)
    for key, value in over.items():
        current = result.get(key)
        result[key] = merged(current, value) if isinstance(current, dict) and isinstance(value, dict) else value
    return result


def run_cases(
    source: str, hook: Hook, cases: list[dict[str, Any]], data: dict[str, Any], *, name: str = "under test"
) -> list[CaseResult]:
    """Run each case against ``source`` on its own (a fresh interpreter); cases must be well formed."""
    return [_run_case(source, hook, case, data, name) for case in cases]


def _run_case(source: str, hook: Hook, case: dict[str, Any], data: dict[str, Any], name: str) -> CaseResult:
    title = str(case.get("name", ""))
    try:
        answer = evaluate_source(source, hook, case["input"], merged(data, case.get("data") or {}), name=name)
    except EngineError as exc:
        return CaseResult(title, False, str(exc))
    problems = _mismatches(hook, case["expect"], answer)
    return CaseResult(title, not problems, " ".join(problems) or "Passed.")


def _mismatches(hook: Hook, expect: dict[str, Any], answer: PolicyAnswer) -> list[str]:
    problems = []
    if "allowed" in expect and expect["allowed"] != answer.allowed:
        got = "allowed" if answer.allowed else "denied (" + "; ".join(answer.messages) + ")"
        problems.append(f"Expected {'allowed' if expect['allowed'] else 'denied'}, got {got}.")
    if "deny" in expect and sorted(expect["deny"]) != sorted(answer.messages):
        problems.append(f"Expected deny messages {sorted(expect['deny'])}, got {sorted(answer.messages)}.")
    if "message" in expect:
        message = answer.messages[0] if answer.messages else ""
        if message != expect["message"]:
            problems.append(f"Expected message {expect['message']!r}, got {message!r}.")
    return problems


def run_policy_tests(policy: Policy) -> list[CaseResult]:
    """Run a saved policy's cases against the live data document."""
    hook = hook_of(policy.package)
    if hook is None or not policy.tests:
        return []
    if case_issues(policy.tests):
        return [CaseResult("tests", False, "; ".join(f"{p}: {m}" for p, m in case_issues(policy.tests)))]
    return run_cases(policy.source, hook, policy.tests, data_document(), name=policy.name)
