"""The playground (admins only): pick a hook, edit an input, see the decision and who made each message.

"Enabled policies" asks the gate itself (``gate.decide`` with ``dry_run=True``: logged as a dry
run, never blocking anything); "unsaved source" compiles the text in a fresh interpreter with
the live reference data, so a policy can be tried before it is saved.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_safe

from pipelines.engine.types import STAGE_TYPES, TASKS
from policies import gate, hooks, rego
from policies.engines import EngineError, data_document
from policies.engines.embedded import evaluate_source
from policies.forms import PlaygroundForm
from policies.hooks import Hook
from policies.models import PolicyMode
from policies.types import Decision, Violation
from policies.views import admin_only

EXECUTION_ID = "5f0c2c8e-6b6a-4d7e-9b61-0c2a7f1e9d33"
USER = {"username": "alice", "isAdmin": False, "roles": ["shop-devs"]}
DEFAULT_SUFFIX = {Hook.STAGE: "deployManifest", Hook.TASK: "createServerGroup", Hook.DEPLOYMENT: "createServerGroup"}


def package_for(hook: Hook, suffix: str) -> str:
    """The package the hook evaluates for ``suffix`` (stage type, task type or operation)."""
    builders = {
        Hook.STAGE: hooks.stage_package,
        Hook.TASK: hooks.task_package,
        Hook.DEPLOYMENT: hooks.deployment_package,
    }
    if hook in builders:
        return builders[hook](suffix)
    fixed = {Hook.SAVE: hooks.SAVE_PACKAGE, Hook.EXECUTION: hooks.EXECUTION_PACKAGE, Hook.AUTHZ: hooks.AUTHZ_PACKAGE}
    return fixed[hook]


def _stage(stage_type: str) -> dict[str, Any]:
    return {
        "id": "9c1d6c1e-3f5a-4e0b-8f55-2f0f3b7a6c01",
        "type": stage_type,
        "name": "Deploy to prod",
        "refId": "2",
        "status": "NOT_STARTED",
        "context": {"account": "prod", "cluster": "shop-web", "waitTime": 30},
        "parentStageId": None,
        "syntheticStageOwner": None,
    }


def _execution(stage: dict[str, Any]) -> dict[str, Any]:
    approve = {**_stage("manualJudgment"), "id": "4b8e0b9a-0d4a-4b4f-9a43-6a1f9e7c2d10", "refId": "1"}
    approve |= {"name": "Approve", "status": "SUCCEEDED", "context": {}}
    return {
        "id": EXECUTION_ID,
        "application": "shop",
        "name": "release",
        "pipelineConfigId": "0b9d0f8a-2c55-4e57-a6a5-5d9f2f0f6e21",
        "status": "RUNNING",
        "trigger": {"type": "manual", "user": "alice", "parameters": {"env": "prod"}},
        "authentication": {"user": "alice"},
        "stages": [
            {**approve, "requisiteStageRefIds": []},
            {**stage, "requisiteStageRefIds": ["1"]},
        ],
    }


def example_input(hook: Hook, suffix: str = "") -> dict[str, Any]:
    """A realistic input document for ``hook``, as ``policies.inputs`` builds them (schema v1)."""
    suffix = suffix or DEFAULT_SUFFIX.get(hook, "")
    now = timezone.now()
    meta = {
        "schema": hooks.INPUT_SCHEMA,
        "hook": hook.value,
        "package": package_for(hook, suffix),
        "time": now.isoformat().replace("+00:00", "Z"),
        "timeNs": int(now.timestamp() * 1e9),
    }
    stage = _stage(suffix if hook == Hook.STAGE else "deployManifest")
    config = {"application": "shop", "name": "release", "stages": [stage], "triggers": [], "parameterConfig": []}
    bodies: dict[Hook, dict[str, Any]] = {
        Hook.SAVE: {"pipeline": config},
        Hook.EXECUTION: {
            "pipeline": {
                **config,
                "id": "0b9d0f8a-2c55-4e57-a6a5-5d9f2f0f6e21",
                "executionId": EXECUTION_ID,
                "trigger": {"type": "manual", "user": "alice", "parameters": {"env": "prod"}},
            }
        },
        Hook.STAGE: {"pipeline": _execution(stage), "stage": stage},
        Hook.TASK: {
            "task": {"id": "7", "name": suffix, "type": suffix, "status": "NOT_STARTED", "attempts": 0},
            "stage": stage,
            "pipeline": _execution(stage),
        },
        Hook.DEPLOYMENT: {"deploy": _deploy(suffix)},
        Hook.AUTHZ: {"method": "POST", "path": ["api", "v1", "pipelines"], "body": {"name": "release"}},
    }
    return {**bodies[hook], "user": USER, "meta": meta}


def _deploy(operation: str) -> dict[str, Any]:
    return {
        "operation": operation,
        "account": "prod",
        "provider": "local",
        "environment": "prod",
        "region": "local",
        "application": "shop",
        "cluster": "shop-web",
        "serverGroup": "shop-web-v004",
        "capacity": {"min": 2, "max": 4, "desired": 2},
        "artifact": "shop:1.4.3",
        "loadBalancers": ["shop-web"],
        "weight": 100,
        "current": None,
    }


@dataclass
class Outcome:
    """What the playground shows: the decision, or why there is none."""

    hook: Hook
    package: str
    allowed: bool = True
    result: str = ""
    violations: list[Violation] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    error: str = ""
    evaluated: int = 0
    record_id: int | None = None


def _from_decision(decision: Decision) -> Outcome:
    return Outcome(
        hook=decision.hook,
        package=decision.package,
        allowed=decision.allowed,
        result=decision.result,
        violations=list(decision.violations),
        error=decision.error,
        evaluated=decision.evaluated,
        record_id=decision.record_id,
    )


def evaluate_unsaved(hook: Hook, package: str, source: str, document: dict[str, Any]) -> Outcome:
    outcome = Outcome(hook=hook, package=package, evaluated=1)
    problems = rego.check_source(source)
    if problems:
        outcome.problems = [_problem_text(problem) for problem in problems]
        return outcome
    source_hook = hooks.hook_of(rego.package_of(source))
    if source_hook != hook:
        shown = source_hook.value if source_hook else "no"
        outcome.problems = [f"This source is evaluated by the {shown} hook, not the {hook.value} hook; pick that one."]
        return outcome
    try:
        answer = evaluate_source(source, hook, document, data_document())
    except EngineError as exc:
        outcome.allowed, outcome.result, outcome.error = False, "error", str(exc)
        return outcome
    outcome.allowed = answer.allowed
    outcome.result = "allow" if answer.allowed else "deny"
    outcome.violations = [Violation("(unsaved source)", PolicyMode.ENFORCE, message) for message in answer.messages]
    return outcome


def _problem_text(problem: rego.RegoProblem) -> str:
    if problem.line is None:
        return problem.message
    return f"line {problem.line}, column {problem.column}: {problem.message}"


def _suffixes() -> list[str]:
    return sorted({*STAGE_TYPES, *TASKS, *hooks.OPERATIONS.values()})


def _render(request: HttpRequest, form: PlaygroundForm, outcome: Outcome | None, status: int = 200) -> HttpResponse:
    context = {"form": form, "outcome": outcome, "suffixes": _suffixes()}
    return render(request, "policies/playground.html", context, status=status)


@admin_only
@require_http_methods(["GET", "POST"])
def playground(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        hook = Hook.SAVE
        initial = {"hook": hook.value, "input": json.dumps(example_input(hook), indent=2)}
        return _render(request, PlaygroundForm(initial=initial), None)
    form = PlaygroundForm(request.POST)
    if not form.is_valid():
        return _render(request, form, None, status=400)
    data = form.cleaned_data
    hook = Hook(data["hook"])
    package = package_for(hook, data["suffix"].strip())
    if hooks.hook_of(package) != hook:
        form.add_error("suffix", f"Give the {hook.value} hook a name such as {DEFAULT_SUFFIX[hook]}.")
        return _render(request, form, None, status=400)
    if data["use_source"]:
        outcome = evaluate_unsaved(hook, package, data["source"], data["input"])
    else:
        outcome = _from_decision(gate.decide(hook, package, data["input"], subject="playground", dry_run=True))
    return _render(request, form, outcome)


@admin_only
@require_safe
def playground_example(request: HttpRequest) -> HttpResponse:
    """The example input for the chosen hook and suffix (swapped into the input box by htmx)."""
    try:
        hook = Hook(request.GET.get("hook", Hook.SAVE.value))
    except ValueError:
        hook = Hook.SAVE
    text = json.dumps(example_input(hook, request.GET.get("suffix", "").strip()), indent=2)
    return render(request, "policies/_playground_input.html", {"text": text})
