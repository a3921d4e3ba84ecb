"""A one-off "Deploy version…" really deploys: the next server group of the cluster runs the new
version behind the cluster's load balancer, started from the clusters page or from the API.

The orchestration runs on the engine in this process; the server groups are real processes under
a temporary supervisor (``tests.clouds.local.fixtures``).
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User

from applications.models import Application
from clouds.models import Account, Cluster, LoadBalancer, ServerGroup
from clouds.providers.base import provider_for
from pipelines.models import Execution
from pipelines.statuses import Status
from tests.clouds.local.conftest import wait_until
from tests.clouds.local.fixtures import sample_spec
from tests.clouds.local.stage_helpers import (
    _inline_engine,
    deployer,
    finish,
    groups_of,
    local_account,
    local_home,
    local_runtime,
    version_at,
)
from tests.conftest import api_as, browser_as

__all__ = ["_inline_engine", "deployer", "local_account", "local_home", "local_runtime"]


def start_from_page(user: User, cluster: Cluster) -> str:
    data = {"artifact": "sample", "version": "v2", "min": "1", "desired": "1", "max": "1", "strategy": "redblack"}
    response = browser_as(user).post(f"/applications/shop/clusters/{cluster.pk}/local/deploy/", data)
    assert response.status_code == 302, response.content
    return str(response["Location"]).rstrip("/").rsplit("/", 1)[-1]


def start_from_api(user: User, cluster: Cluster) -> str:
    entry: dict[str, Any] = {
        "account": "local",
        "stack": "web",
        "region": "local",
        "artifact": {"name": "sample", "version": "v2"},
        "loadBalancers": ["shop-web"],
        "strategy": "redblack",
    }
    body = {"application": "shop", "stage": {"type": "deploy", "name": "Deploy v2", "clusters": [entry]}}
    response = api_as(user).post("/api/v1/orchestrations/", body, format="json")
    assert response.status_code == 202, response.content
    return str(response.json()["execution"])


@pytest.mark.parametrize("start", [start_from_page, start_from_api], ids=["page", "api"])
def test_it_deploys_the_next_server_group(shop: Application, deployer: Account, developer: User, start: Any) -> None:
    provider = provider_for(deployer)
    first = provider.create_server_group(sample_spec(), idempotency_key="test-create")
    wait_until(lambda: groups_of(deployer)[0].up_count == 1, 15.0, "v000 UP")
    cluster = Cluster.objects.get(name="shop-web")

    execution = finish(Execution.objects.get(pk=start(developer, cluster)))

    assert execution.status == Status.SUCCEEDED, list(execution.stages.values_list("name", "failure_message"))
    newest, older = groups_of(deployer)
    assert (older.name, newest.name) == (first.name, "shop-web-v001")
    assert (newest.artifact.version, newest.enabled, older.enabled) == ("v2", True, False)
    address = LoadBalancer.objects.get(name="shop-web").address
    assert version_at(address) == "v2"
    row = ServerGroup.objects.get(name="shop-web-v001", destroyed_at__isnull=True)
    assert (row.artifact, row.enabled) == ("sample:v2", True)
