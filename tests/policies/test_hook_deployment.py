"""The deployment hook (``spinnaker.deployment.tasks.before.<operation>``): just before a provider acts,
for pipeline stages and for one-off actions from the clusters page and the API alike. A refused
operation is not recorded as done, so it may act once the policies allow it.

The server groups are real processes under a temporary supervisor (``tests.clouds.local.fixtures``);
the engine runs in this process.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User

from applications.models import Application
from clouds.models import Account, ProviderOperation, ServerGroup
from clouds.providers.base import PermanentProviderError, provider_for
from pipelines.models import Execution, Pipeline
from pipelines.statuses import Status
from policies.actions import save_policy
from policies.models import DecisionResult, Policy, PolicyDecision
from spinweb.models import AuditSource
from tests.clouds.local.conftest import wait_until
from tests.clouds.local.fixtures import sample_spec
from tests.clouds.local.stage_helpers import (
    _inline_engine,
    deploy_stage,
    deployer,
    finish,
    groups_of,
    local_account,
    local_home,
    local_runtime,
    save,
    start,
)
from tests.conftest import api_as, browser_as
from tests.policies.hook_helpers import enable

__all__ = ["_inline_engine", "deployer", "local_account", "local_home", "local_runtime", "save"]

KEEP_LIVE_GROUPS = """
package spinnaker.deployment.tasks.before.destroyServerGroup
import rego.v1

deny contains msg if {
    input.deploy.current.instances > 0
    msg := sprintf(
        "%s still runs %d instance(s) in %s; resize it to 0 first.",
        [input.deploy.serverGroup, input.deploy.current.instances, input.deploy.environment],
    )
}
"""

NO_DISABLES = """
package spinnaker.execution.stages.before.disableCluster
import rego.v1

deny contains msg if {
    some parent in input.pipeline.stages
    parent.id == input.stage.parentStageId
    msg := sprintf("%s of %s needs a manual judgment first.", [input.stage.name, parent.name])
}
"""
MESSAGE = "Denied by policy keep-live-groups: shop-web-v000 still runs 1 instance(s) in dev; resize it to 0 first."


@pytest.fixture
def live_group(admin: User, shop: Application, deployer: Account, developer: User) -> ServerGroup:
    provider_for(deployer).create_server_group(sample_spec(), idempotency_key="test-create")
    wait_until(lambda: groups_of(deployer)[0].up_count == 1, 15.0, "v000 UP")
    enable("keep-live-groups", KEEP_LIVE_GROUPS)
    return ServerGroup.objects.get(name="shop-web-v000")


def destroy_from_api(user: User, group: ServerGroup) -> str:
    stage = {
        "type": "destroyServerGroup",
        "credentials": "local",
        "cluster": "shop-web",
        "regions": ["local"],
        "serverGroupName": group.name,
    }
    body = {"application": "shop", "stage": stage, "confirm": group.name}
    response = api_as(user).post("/api/v1/orchestrations/", body, format="json")
    assert response.status_code == 202, response.content
    return str(response.json()["execution"])


def destroy_from_page(user: User, group: ServerGroup) -> str:
    url = f"/applications/shop/clusters/server-groups/{group.pk}/destroy/"
    response = browser_as(user).post(url, {"confirm": group.name})
    assert response.status_code == 302, response.content
    return str(response["Location"]).rstrip("/").rsplit("/", 1)[-1]


@pytest.mark.parametrize("destroy", [destroy_from_api, destroy_from_page], ids=["api", "page"])
def test_it_refuses_a_one_off_destroy_and_the_group_stays(
    live_group: ServerGroup, deployer: Account, developer: User, destroy: Callable[[User, ServerGroup], str]
) -> None:
    execution = finish(Execution.objects.get(pk=destroy(developer, live_group)))
    assert execution.status == Status.TERMINAL
    assert execution.stages.get().failure_message == MESSAGE
    # The destroy stage disables the group first (that operation is allowed), then the destroy is refused.
    assert [(group.name, group.enabled, group.up_count) for group in groups_of(deployer)] == [
        ("shop-web-v000", False, 1)
    ]
    logged = PolicyDecision.objects.get(hook="deployment")
    assert (logged.result, logged.username, logged.application) == (DecisionResult.DENY, "developer", "shop")
    assert (logged.execution_id, logged.package) == (
        execution.pk,
        "spinnaker.deployment.tasks.before.destroyServerGroup",
    )
    assert logged.input.document["deploy"]["current"] == {
        "name": "shop-web-v000",
        "enabled": False,
        "weight": 100,
        "instances": 1,
        "up": 1,
    }


def test_it_acts_on_a_retry_once_the_policy_is_off(live_group: ServerGroup, deployer: Account, admin: User) -> None:
    provider = provider_for(deployer)
    with pytest.raises(PermanentProviderError) as refused:
        provider.destroy("shop-web-v000", "local", idempotency_key="test-destroy")
    assert str(refused.value) == MESSAGE
    assert ProviderOperation.objects.get(key="test-destroy").completed_at is None
    assert PolicyDecision.objects.get(hook="deployment").username == "system"

    policy = Policy.objects.get(name="keep-live-groups")
    save_policy(
        admin, policy=policy, name=policy.name, source=policy.source, enabled=False, source_label=AuditSource.API
    )
    provider.destroy("shop-web-v000", "local", idempotency_key="test-destroy")
    assert groups_of(deployer) == []


def test_it_gates_the_synthetic_stages_of_a_strategy(
    save: Callable[..., Pipeline], deployer: Account, admin: User
) -> None:
    assert finish(start(save(deploy_stage("1", "v1"), name="setup"))).status == Status.SUCCEEDED
    enable("no-disables", NO_DISABLES)
    execution = finish(start(save(deploy_stage("1", "v2", strategy="redblack"), name="blue/green")))
    assert execution.status == Status.TERMINAL
    disable = execution.stages.get(name="Disable older server groups")
    message = (
        "Denied by policy no-disables: Disable older server groups of Deploy in local needs a manual judgment first."
    )
    assert (disable.status, disable.failure_message) == (Status.TERMINAL, message)
    assert [(group.name, group.enabled) for group in groups_of(deployer)][-1] == ("shop-web-v000", True)
