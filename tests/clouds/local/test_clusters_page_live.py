"""The clusters page re-reads the local provider before it shows anything: rows that went stale
show what really runs."""

from __future__ import annotations

import re

from django.contrib.auth.models import User

from applications.models import Application
from clouds.models import Account, ServerGroup, empty_instance_counts
from clouds.providers.base import Capacity, provider_for
from tests.clouds.local.conftest import LocalHome, wait_for_group
from tests.clouds.local.fixtures import sample_spec
from tests.clouds.local.stage_helpers import deployer, local_account, local_home, local_runtime
from tests.conftest import browser_as

__all__ = ["deployer", "local_account", "local_home", "local_runtime"]


def test_it_shows_the_instances_that_run_now(
    shop: Application, deployer: Account, local_runtime: LocalHome, developer: User
) -> None:
    created = provider_for(deployer).create_server_group(
        sample_spec(capacity=Capacity(2, 2, 2)), idempotency_key="test-create"
    )
    wait_for_group(local_runtime.client(), created.name, up=2)
    stale = {"instances": [], "instance_counts": empty_instance_counts(), "enabled": False, "traffic_weight": 0}

    client = browser_as(developer)
    for url in ("/applications/shop/clusters/", "/applications/shop/clusters/live/"):
        ServerGroup.objects.filter(name=created.name).update(**stale)
        html = client.get(url).content.decode()
        assert re.findall(rf'title="{created.name}-\d+: (\w+)"', html) == ["UP", "UP"]
        assert '<progress value="100" max="100"' in html
