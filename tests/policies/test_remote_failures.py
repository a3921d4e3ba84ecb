"""When the OPA server cannot decide (unreachable, too slow, failing, answering garbage, refusing
a policy), the gate fails closed with a message naming the hook and the cause, and fails open only
for the hooks listed in SPINWEB_POLICY_FAIL_OPEN.

The OPA server here is ``tests/policies/opa_emulator.py``, which
emulates OPA's Policy and Data APIs; evaluation is rego-cpp (regopy), not OPA's Go evaluator.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from django.conf import LazySettings

from policies.actions import bump_generation
from policies.gate import decide
from policies.hooks import EXECUTION_PACKAGE, SAVE_PACKAGE, Hook
from policies.models import DecisionResult, Policy, PolicyDecision
from policies.types import Decision
from tests.http_server import closed_port
from tests.policies.conftest import MakePolicy, deny_source
from tests.policies.opa_emulator import OpaEmulator

USER = {"username": "alice", "isAdmin": False, "roles": []}
FINE = {"pipeline": {"name": "shop-build"}, "user": USER}
GATE = f"Policy gate save ({SAVE_PACKAGE}) could not decide: "

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _defaults(settings: LazySettings) -> None:
    settings.SPINWEB_OPA_TOKEN = ""
    settings.SPINWEB_POLICY_TIMEOUT_MS = 2000
    settings.SPINWEB_POLICY_FAIL_OPEN = []


@pytest.fixture
def opa(settings: LazySettings) -> Iterator[OpaEmulator]:
    with OpaEmulator() as server:
        settings.OPA_URL = server.url
        yield server


@pytest.fixture
def names_policy(make_policy: MakePolicy) -> Policy:
    return make_policy(deny_source(SAVE_PACKAGE, "no prod names", 'startswith(input.pipeline.name, "prod")'))


def save_decision() -> Decision:
    return decide(Hook.SAVE, SAVE_PACKAGE, FINE)


def assert_failed_closed(decision: Decision, cause: str) -> None:
    assert not decision.allowed
    assert decision.result == DecisionResult.ERROR
    assert decision.denials == [GATE + cause]
    logged = PolicyDecision.objects.get(pk=decision.record_id or 0)
    assert (logged.result, logged.allowed, logged.engine) == (DecisionResult.ERROR, False, "remote")


def test_it_fails_closed_when_the_server_is_unreachable(settings: LazySettings, names_policy: Policy) -> None:
    with closed_port() as port:
        settings.OPA_URL = f"http://127.0.0.1:{port}"

        decision = save_decision()

    assert_failed_closed(
        decision, f"The OPA server at http://127.0.0.1:{port} could not be reached (connection refused)."
    )


def test_it_fails_closed_when_the_server_is_too_slow(
    settings: LazySettings, opa: OpaEmulator, names_policy: Policy
) -> None:
    settings.SPINWEB_POLICY_TIMEOUT_MS = 200
    opa.slow = 30.0
    started = time.monotonic()

    decision = save_decision()

    assert time.monotonic() - started < 5
    assert_failed_closed(decision, f"The OPA server at {opa.url} did not answer within 200 ms.")


def test_it_fails_closed_when_the_server_answers_500(opa: OpaEmulator, names_policy: Policy) -> None:
    assert save_decision().allowed  # pushed and answered once
    opa.fail = True

    decision = save_decision()

    assert_failed_closed(
        decision,
        f"The OPA server at {opa.url} could not evaluate policy {names_policy.name}: "
        "it answered HTTP 500 (internal_error: emulated server failure).",
    )


def test_it_fails_closed_when_the_server_answers_text(opa: OpaEmulator, names_policy: Policy) -> None:
    assert save_decision().allowed
    opa.garbage = "text"

    decision = save_decision()

    assert_failed_closed(
        decision, f"The OPA server at {opa.url} could not evaluate policy {names_policy.name}: its answer is not JSON."
    )


def test_it_fails_closed_when_the_server_answers_json_of_another_shape(opa: OpaEmulator, names_policy: Policy) -> None:
    assert save_decision().allowed
    opa.garbage = "shape"

    decision = save_decision()

    assert_failed_closed(
        decision,
        f"The OPA server at {opa.url} answered policy {names_policy.name} with JSON that is not an OPA result.",
    )


def test_it_fails_closed_when_garbage_comes_while_pushing(opa: OpaEmulator, names_policy: Policy) -> None:
    opa.garbage = "shape"

    decision = save_decision()

    assert_failed_closed(
        decision, f"The OPA server at {opa.url} could not list its policies: its answer is not shaped like OPA's."
    )
    opa.garbage = ""
    assert save_decision().result == DecisionResult.ALLOW  # the next decision pushes again


def test_it_fails_closed_on_a_policy_the_server_refuses(opa: OpaEmulator, make_policy: MakePolicy) -> None:
    broken = make_policy(deny_source(SAVE_PACKAGE, "broken"), name="broken")
    make_policy(deny_source(EXECUTION_PACKAGE, "no runs today"), name="freeze")
    # A source the server refuses (as OPA may refuse what rego-cpp accepted): written past the checks.
    Policy.objects.filter(pk=broken.pk).update(source=f"package {SAVE_PACKAGE}\n\ndeny contains m if {{ m := }}\n")
    bump_generation()

    decision = save_decision()

    assert not decision.allowed
    assert decision.error.startswith(GATE + f"The OPA server at {opa.url} refused policy broken: invalid_parameter")
    assert "Invalid assignment operator" in decision.error
    other = decide(Hook.EXECUTION, EXECUTION_PACKAGE, FINE)
    assert other.result == DecisionResult.DENY  # the other policies still decide
    assert other.denials == ["Denied by policy freeze: no runs today"]


def test_it_fails_open_only_for_listed_hooks(settings: LazySettings, make_policy: MakePolicy) -> None:
    make_policy(deny_source(SAVE_PACKAGE, "no saves"), name="saves")
    make_policy(deny_source(EXECUTION_PACKAGE, "no runs"), name="runs")
    settings.SPINWEB_POLICY_FAIL_OPEN = ["save"]
    with closed_port() as port:
        settings.OPA_URL = f"http://127.0.0.1:{port}"

        saved = save_decision()
        started = decide(Hook.EXECUTION, EXECUTION_PACKAGE, FINE)

    cause = f"The OPA server at http://127.0.0.1:{port} could not be reached (connection refused)."
    assert saved.allowed
    assert saved.result == DecisionResult.ERROR
    assert saved.warnings == [GATE + cause + " (this hook fails open)"]
    assert PolicyDecision.objects.get(pk=saved.record_id or 0).failed_open
    assert not started.allowed
    assert started.denials == [f"Policy gate execution ({EXECUTION_PACKAGE}) could not decide: {cause}"]


def test_it_never_blocks_on_a_warn_policy_the_server_cannot_evaluate(
    settings: LazySettings, make_policy: MakePolicy
) -> None:
    make_policy(deny_source(SAVE_PACKAGE, "no saves"), name="advice", mode="warn")
    with closed_port() as port:
        settings.OPA_URL = f"http://127.0.0.1:{port}"

        decision = save_decision()

    assert decision.allowed
    assert decision.result == DecisionResult.WARN
    assert decision.warnings == [
        f"Policy advice (warn only): could not be evaluated: The OPA server at http://127.0.0.1:{port} "
        "could not be reached (connection refused)."
    ]
