"""The remote engine decides exactly as the embedded one: the same policies, data and inputs give
the same decision (allowed, result, every message with its policy and mode).

The OPA server here is ``tests/policies/opa_emulator.py``, which
emulates OPA's Policy and Data APIs; evaluation is rego-cpp (regopy), not OPA's Go evaluator.
What this proves is that the remote engine pushes, namespaces, queries and normalises like the
embedded one, over real HTTP.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.conf import LazySettings

from clouds.models import Account
from policies.actions import save_reference_data
from policies.gate import decide
from policies.hooks import AUTHZ_PACKAGE, SAVE_PACKAGE, Hook, stage_package
from policies.models import PolicyDecision
from policies.types import Decision
from spinweb.models import AuditSource
from tests.policies.conftest import MakePolicy
from tests.policies.opa_emulator import OpaEmulator

USER = {"username": "alice", "isAdmin": False, "roles": ["shop-devs"]}
ADMIN = {"username": "root", "isAdmin": True, "roles": []}


@pytest.fixture
def opa(settings: LazySettings) -> Iterator[OpaEmulator]:
    settings.SPINWEB_OPA_TOKEN = ""
    settings.SPINWEB_POLICY_TIMEOUT_MS = 2000
    settings.SPINWEB_POLICY_FAIL_OPEN = []
    with OpaEmulator() as server:
        yield server


@dataclass(frozen=True)
class Case:
    policies: list[tuple[str, str]]  # (source, mode)
    hook: Hook
    package: str
    document: dict[str, Any]
    expect: str  # the result both engines must reach
    data: dict[str, Any] = field(default_factory=dict)
    accounts: list[tuple[str, str]] = field(default_factory=list)  # (name, environment)


NAMES = """package spinnaker.persistence.pipelines.before

import rego.v1

deny contains sprintf("pipeline %s may not be named prod-anything", [input.pipeline.name]) if {
\tstartswith(input.pipeline.name, "prod")
}

deny contains "every pipeline needs a description" if {
\tnot input.pipeline.description
}
"""

NOTIFY = """package opa.pipelines

import rego.v1

deny contains "add a failure notification" if {
\tcount(object.get(input.pipeline, "notifications", [])) == 0
}
"""

AUTHZ_WITH_MESSAGE = """package spinnaker.http.authz

import rego.v1

default allow := false

allow if input.user.isAdmin

allow if input.method == "GET"

message := sprintf("only admins may %s here", [input.method])
"""

AUTHZ_BARE = """package spinnaker.http.authz

import rego.v1

allow if input.user.isAdmin
"""

MAX_STAGES = """package spinnaker.persistence.pipelines.before

import rego.v1

deny contains sprintf("%d stages is more than the %d allowed", [n, data.limits.maxStages]) if {
\tn := count(input.pipeline.stages)
\tn > data.limits.maxStages
}

deny contains sprintf("image %s is not approved", [input.pipeline.image]) if {
\tnot input.pipeline.image in data.approved_images
}
"""

PROD_ACCOUNTS = """package spinnaker.execution.stages.before.deploy

import rego.v1

deny contains sprintf("deploys to %s (%s) need a manual judgment first", [account, env]) if {
\taccount := input.stage.context.account
\tenv := data.spinweb.accounts[account].environment
\tenv == "prod"
}
"""

V0 = """package spinnaker.persistence.pipelines.before

deny[msg] {
    input.pipeline.name == "legacy"
    msg := "v0 syntax still denies"
}
"""

QUOTES = r"""package spinnaker.persistence.pipelines.before

import rego.v1

deny contains sprintf("pipeline \"%s\" says \"%s\" \\ done", [input.pipeline.name, input.pipeline.motto]) if {
	input.pipeline.motto
}
"""

STRUCTURED = """package spinnaker.persistence.pipelines.before

import rego.v1

deny contains {"code": 7, "why": "structured"} if input.pipeline.name == "x"
"""

PIPELINE = {"name": "shop-build", "description": "builds", "stages": [], "notifications": [{"type": "email"}]}


def pipeline(**changes: Any) -> dict[str, Any]:
    return {"pipeline": {**PIPELINE, **changes}, "user": USER}


CASES = {
    "deny set, two messages": Case(
        [(NAMES, "enforce")], Hook.SAVE, SAVE_PACKAGE, pipeline(name="prod-x", description=None), "deny"
    ),
    "nothing denied": Case([(NAMES, "enforce")], Hook.SAVE, SAVE_PACKAGE, pipeline(), "allow"),
    "warn mode": Case([(NAMES, "warn")], Hook.SAVE, SAVE_PACKAGE, pipeline(name="prod-x"), "warn"),
    "two policies in one package": Case(
        [(NAMES, "enforce"), (MAX_STAGES, "warn")],
        Hook.SAVE,
        SAVE_PACKAGE,
        pipeline(name="prod-x", stages=[{}, {}, {}], image="evil:1"),
        "deny",
        data={"limits": {"maxStages": 2}, "approved_images": ["shop:1"]},
    ),
    "alias package opa.pipelines": Case(
        [(NAMES, "warn"), (NOTIFY, "enforce")], Hook.SAVE, SAVE_PACKAGE, pipeline(notifications=[]), "deny"
    ),
    "authz allowed": Case(
        [(AUTHZ_WITH_MESSAGE, "enforce")],
        Hook.AUTHZ,
        AUTHZ_PACKAGE,
        {"method": "POST", "path": ["api", "v1"], "body": {}, "user": ADMIN},
        "allow",
    ),
    "authz refused with message": Case(
        [(AUTHZ_WITH_MESSAGE, "enforce")],
        Hook.AUTHZ,
        AUTHZ_PACKAGE,
        {"method": "DELETE", "path": ["api", "v1", "pipelines"], "body": {}, "user": USER},
        "deny",
    ),
    "authz refused, undefined allow, no message": Case(
        [(AUTHZ_BARE, "enforce")],
        Hook.AUTHZ,
        AUTHZ_PACKAGE,
        {"method": "GET", "path": [], "body": None, "user": USER},
        "deny",
    ),
    "reference data (object and list)": Case(
        [(MAX_STAGES, "enforce")],
        Hook.SAVE,
        SAVE_PACKAGE,
        pipeline(stages=[{}, {}, {}], image="evil:1"),
        "deny",
        data={"limits": {"maxStages": 2}, "approved_images": ["shop:1", "shop:2"]},
    ),
    "reference data satisfied": Case(
        [(MAX_STAGES, "enforce")],
        Hook.SAVE,
        SAVE_PACKAGE,
        pipeline(stages=[{}], image="shop:2"),
        "allow",
        data={"limits": {"maxStages": 2}, "approved_images": ["shop:1", "shop:2"]},
    ),
    "data.spinweb.accounts": Case(
        [(PROD_ACCOUNTS, "enforce")],
        Hook.STAGE,
        stage_package("deploy"),
        {"stage": {"type": "deploy", "context": {"account": "prod-east"}}, "pipeline": {}, "user": USER},
        "deny",
        accounts=[("prod-east", "prod"), ("dev-west", "dev")],
    ),
    "v0 syntax": Case([(V0, "enforce")], Hook.SAVE, SAVE_PACKAGE, pipeline(name="legacy"), "deny"),
    "messages with quotes and backslashes": Case(
        [(QUOTES, "enforce")], Hook.SAVE, SAVE_PACKAGE, pipeline(name='say "hi"', motto='it\'s "fine"'), "deny"
    ),
    "a deny entry that is not a string": Case(
        [(STRUCTURED, "enforce")], Hook.SAVE, SAVE_PACKAGE, pipeline(name="x"), "deny"
    ),
}


def seen(decision: Decision) -> tuple[Any, ...]:
    violations = sorted((v.policy, v.mode, v.message) for v in decision.violations)
    return decision.allowed, decision.result, violations, decision.message, decision.error


def both_engines(settings: LazySettings, opa: OpaEmulator, case: Case) -> tuple[Decision, Decision]:
    settings.OPA_URL = ""
    embedded = decide(case.hook, case.package, case.document)
    settings.OPA_URL = opa.url
    remote = decide(case.hook, case.package, case.document)
    return embedded, remote


def install(case: Case, make_policy: MakePolicy) -> None:
    for key, document in case.data.items():
        save_reference_data(None, key=key, document=document, source_label=AuditSource.SYSTEM)
    for name, environment in case.accounts:
        Account.objects.create(name=name, environment=environment, regions=["local"])
    for index, (source, mode) in enumerate(case.policies):
        make_policy(source, name=f"policy-{index + 1}", mode=mode)


@pytest.mark.django_db
@pytest.mark.parametrize("name", list(CASES))
def test_it_decides_like_the_embedded_engine(
    name: str, settings: LazySettings, opa: OpaEmulator, make_policy: MakePolicy
) -> None:
    case = CASES[name]
    install(case, make_policy)

    embedded, remote = both_engines(settings, opa, case)

    assert seen(remote) == seen(embedded)
    assert remote.result == case.expect
    assert opa.count("POST", "/v1/data/spinweb_policies/") >= 1
    engines = list(PolicyDecision.objects.order_by("pk").values_list("engine", flat=True))
    assert engines == ["embedded", "remote"]


@pytest.mark.django_db
def test_it_shows_the_same_messages_a_user_reads(
    settings: LazySettings, opa: OpaEmulator, make_policy: MakePolicy
) -> None:
    case = CASES["messages with quotes and backslashes"]
    install(case, make_policy)

    _, remote = both_engines(settings, opa, case)

    assert remote.denials == ['Denied by policy policy-1: pipeline "say "hi"" says "it\'s "fine"" \\ done']


@pytest.mark.django_db
def test_it_reads_a_structured_deny_entry_as_compact_json(
    settings: LazySettings, opa: OpaEmulator, make_policy: MakePolicy
) -> None:
    case = CASES["a deny entry that is not a string"]
    install(case, make_policy)

    _, remote = both_engines(settings, opa, case)

    assert [v.message for v in remote.violations] == ['{"code":7,"why":"structured"}']


@pytest.mark.django_db
def test_it_answers_authz_with_the_policy_message(
    settings: LazySettings, opa: OpaEmulator, make_policy: MakePolicy
) -> None:
    case = CASES["authz refused with message"]
    install(case, make_policy)

    _, remote = both_engines(settings, opa, case)

    assert remote.message == "only admins may DELETE here"
    assert not remote.allowed
