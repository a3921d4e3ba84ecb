"""The remote engine keeps the OPA server in step with the policy set: once per generation,
before the next decision after a change, and again after the server lost everything.

The OPA server here is ``tests/policies/opa_emulator.py``, which
emulates OPA's Policy and Data APIs; evaluation is rego-cpp (regopy), not OPA's Go evaluator.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import LazySettings

from policies.actions import delete_policy, delete_reference_data, save_reference_data
from policies.engines import CompiledPolicy, current_engine, current_policy_set
from policies.gate import decide
from policies.hooks import SAVE_PACKAGE, Hook
from policies.models import DecisionResult
from spinweb.models import AuditSource
from tests.policies.conftest import MakePolicy, deny_source
from tests.policies.opa_emulator import OpaEmulator

USER = {"username": "alice", "isAdmin": False, "roles": []}
PROD = {"pipeline": {"name": "prod-deploy"}, "user": USER}
DENY_PROD = 'startswith(input.pipeline.name, "prod")'

pytestmark = pytest.mark.django_db


@pytest.fixture
def opa(settings: LazySettings) -> Iterator[OpaEmulator]:
    settings.SPINWEB_OPA_TOKEN = ""
    settings.SPINWEB_POLICY_TIMEOUT_MS = 2000
    settings.SPINWEB_POLICY_FAIL_OPEN = []
    with OpaEmulator() as server:
        settings.OPA_URL = server.url
        yield server


def messages(document: dict[str, object] = PROD) -> list[str]:
    return [v.message for v in decide(Hook.SAVE, SAVE_PACKAGE, document).violations]


def test_it_pushes_each_generation_once(opa: OpaEmulator, make_policy: MakePolicy) -> None:
    make_policy(deny_source(SAVE_PACKAGE, "no prod names", DENY_PROD), name="names")
    make_policy(deny_source(SAVE_PACKAGE, "never on Friday", "false"), name="friday")

    for _ in range(5):
        assert messages() == ["no prod names"]

    assert opa.count("PUT", "/v1/policies/") == 2
    assert opa.count("GET", "/v1/policies") == 1
    assert opa.count("PUT", "/v1/data/spinweb") == 1
    assert opa.count("POST", "/v1/data/spinweb_policies/") == 10


def test_it_namespaces_each_policy_on_the_server(opa: OpaEmulator, make_policy: MakePolicy) -> None:
    policy = make_policy(deny_source(SAVE_PACKAGE, "no prod names", DENY_PROD), name="names")

    messages()

    assert list(opa.policies) == [f"spinweb-p{policy.pk}"]
    assert opa.policies[f"spinweb-p{policy.pk}"].startswith(f"package spinweb_policies.p{policy.pk}.{SAVE_PACKAGE}\n")
    asked = [seen.path for seen in opa.requests if seen.method == "POST"]
    assert asked == [f"/v1/data/spinweb_policies/p{policy.pk}/spinnaker/persistence/pipelines/before/deny"]


def test_it_pushes_a_changed_policy_before_the_next_decision(opa: OpaEmulator, make_policy: MakePolicy) -> None:
    policy = make_policy(deny_source(SAVE_PACKAGE, "no prod names", DENY_PROD), name="names")
    assert messages() == ["no prod names"]

    make_policy(deny_source(SAVE_PACKAGE, "prod needs a ticket", DENY_PROD), name="tickets")
    assert messages() == ["no prod names", "prod needs a ticket"]

    delete_policy(None, policy, source_label=AuditSource.SYSTEM)
    assert messages() == ["prod needs a ticket"]
    assert f"spinweb-p{policy.pk}" not in opa.policies
    assert opa.count("PUT", "/v1/policies/") == 1 + 2 + 1


def test_it_leaves_policies_it_does_not_own_alone(opa: OpaEmulator, make_policy: MakePolicy) -> None:
    opa.policies["team-authz"] = "package team.authz\n\nallow := true\n"
    opa.policies["spinweb-p999"] = "package spinweb_policies.p999.old\n\ndeny := set()\n"
    make_policy(deny_source(SAVE_PACKAGE, "no prod names", DENY_PROD), name="names")

    messages()

    assert "team-authz" in opa.policies
    assert "spinweb-p999" not in opa.policies


def test_it_pushes_reference_data_and_removes_deleted_keys(opa: OpaEmulator, make_policy: MakePolicy) -> None:
    save_reference_data(None, key="banned", document=["prod-deploy"], source_label=AuditSource.SYSTEM)
    item = save_reference_data(None, key="owners", document={"shop": "alice"}, source_label=AuditSource.SYSTEM)
    make_policy(deny_source(SAVE_PACKAGE, "banned name", "input.pipeline.name in data.banned"), name="banned")
    assert messages() == ["banned name"]
    assert opa.data["banned"] == ["prod-deploy"]
    assert opa.data["owners"] == {"shop": "alice"}

    delete_reference_data(None, item, source_label=AuditSource.SYSTEM)
    save_reference_data(None, key="banned", document=[], source_label=AuditSource.SYSTEM)

    assert messages() == []
    assert "owners" not in opa.data
    assert opa.data["banned"] == []


def test_it_pushes_again_to_a_server_that_restarted(opa: OpaEmulator, make_policy: MakePolicy) -> None:
    save_reference_data(None, key="banned", document=["prod-deploy"], source_label=AuditSource.SYSTEM)
    make_policy(deny_source(SAVE_PACKAGE, "banned name", "input.pipeline.name in data.banned"), name="banned")
    assert messages() == ["banned name"]

    opa.forget()
    decision = decide(Hook.SAVE, SAVE_PACKAGE, PROD)

    assert decision.result == DecisionResult.DENY
    assert [v.message for v in decision.violations] == ["banned name"]
    assert opa.count("PUT", "/v1/policies/") == 2
    assert opa.data["banned"] == ["prod-deploy"]


def test_it_sends_the_bearer_token(settings: LazySettings, make_policy: MakePolicy) -> None:
    settings.SPINWEB_OPA_TOKEN = "opa-s3cret"
    settings.SPINWEB_POLICY_FAIL_OPEN = []
    make_policy(deny_source(SAVE_PACKAGE, "no prod names", DENY_PROD), name="names")
    with OpaEmulator(token="opa-s3cret") as opa:
        settings.OPA_URL = opa.url + "/v1/data/"

        assert messages() == ["no prod names"]
        assert {seen.authorization for seen in opa.requests} == {"Bearer opa-s3cret"}


def test_it_refuses_a_wrong_token_without_showing_it(settings: LazySettings, make_policy: MakePolicy) -> None:
    settings.SPINWEB_OPA_TOKEN = "wrong-token"
    settings.SPINWEB_POLICY_FAIL_OPEN = []
    make_policy(deny_source(SAVE_PACKAGE, "no prod names", DENY_PROD), name="names")
    with OpaEmulator(token="opa-s3cret") as opa:
        settings.OPA_URL = opa.url + "/v1"

        decision = decide(Hook.SAVE, SAVE_PACKAGE, PROD)

    assert not decision.allowed
    assert "unauthorized" in decision.error
    assert "wrong-token" not in decision.error
    assert "opa-s3cret" not in decision.error


def test_it_pushes_once_when_many_threads_decide_at_once(opa: OpaEmulator, make_policy: MakePolicy) -> None:
    make_policy(deny_source(SAVE_PACKAGE, "no prod names", DENY_PROD), name="names")
    make_policy(deny_source(SAVE_PACKAGE, "prod needs a ticket", DENY_PROD), name="tickets")
    policy_set = current_policy_set()
    engine = current_engine()

    def ask(policy: CompiledPolicy) -> list[str]:
        return engine.evaluate(policy_set, policy, Hook.SAVE, PROD).messages

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(ask, policy_set.policies * 8))

    assert answers == [["no prod names"], ["prod needs a ticket"]] * 8
    assert opa.count("PUT", "/v1/policies/") == 2
