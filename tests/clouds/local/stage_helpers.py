"""Helpers for the cluster-stage tests: pipelines of shop deploying the sample app to the local account.

The engine runs in this process (``run_due_tasks``); the server groups are real processes under a
temporary supervisor (``tests.clouds.local.fixtures``). A test module imports the fixtures it
uses from here (``deployer``, ``save``, ``local_account``, ``local_home``, ``local_runtime``,
``_inline_engine``) and lists them in ``__all__``.

Waits for health take real time: ``finish`` runs due tasks in a loop until the run ends or a
deadline passes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Group

from clouds.models import Account, AccountGrant
from clouds.providers.base import ServerGroupState, provider_for
from pipelines.engine.runner import run_due_tasks
from pipelines.models import Execution, Pipeline
from pipelines.statuses import COMPLETED
from tests.clouds.local.conftest import get
from tests.clouds.local.fixtures import local_account, local_home, local_runtime
from tests.pipelines.conftest import _inline_engine, save, stage

__all__ = [
    "_inline_engine",
    "cluster_stage",
    "deploy_stage",
    "deployer",
    "finish",
    "groups_of",
    "local_account",
    "local_home",
    "local_runtime",
    "save",
    "start",
    "version_at",
]


@pytest.fixture
def deployer(local_account: Account, groups: dict[str, Group]) -> Account:
    """The local account with the sample artifact, which shop's developers may deploy to (WRITE)."""
    AccountGrant.objects.create(account=local_account, group=groups["shop-devs"], level="WRITE")
    return local_account


def deploy_stage(
    ref: str, version: str, name: str | None = None, requires: tuple[str, ...] = (), **fields: Any
) -> dict[str, Any]:
    """A deploy of shop-web (one instance of sample ``version``) behind the load balancer shop-web."""
    cluster = {
        "account": "local",
        "application": "shop",
        "stack": "web",
        "region": "local",
        "artifact": {"name": "sample", "version": version},
        "capacity": {"min": 1, "max": 1, "desired": 1},
        "loadBalancers": ["shop-web"],
        "strategy": "",
        **fields,
    }
    return stage(ref, "deploy", name or f"Deploy {version}", requires, clusters=[cluster])


def cluster_stage(
    ref: str, kind: str, name: str | None = None, requires: tuple[str, ...] = (), **fields: Any
) -> dict[str, Any]:
    """A stage acting on cluster shop-web of the local account."""
    return stage(ref, kind, name, requires, credentials="local", cluster="shop-web", regions=["local"], **fields)


def start(pipeline: Pipeline, **parameters: Any) -> Execution:
    from django.contrib.auth.models import User

    from pipelines import actions

    developer = User.objects.get(username="developer")
    return actions.start_execution(developer, pipeline, parameters=parameters, source="api")


def finish(
    execution: Execution,
    timeout: float = 60.0,
    *,
    until: Callable[[], bool] = lambda: False,
    capture: Any = None,
) -> Execution:
    """Run due tasks until the execution ends (or ``until()``); fail naming each stage's state after
    ``timeout`` s. With ``capture`` (pytest-django's ``django_capture_on_commit_callbacks``), what
    runs after a commit runs here too."""
    deadline = time.monotonic() + timeout
    while True:
        if capture is None:
            run_due_tasks()
        else:
            with capture(execute=True):
                run_due_tasks()
        execution.refresh_from_db()
        if execution.status in COMPLETED or until():
            return execution
        if time.monotonic() >= deadline:
            rows = execution.stages.values_list("name", "status", "failure_message")
            raise AssertionError(f"{execution.name} still {execution.status} after {timeout} s: {list(rows)}")
        time.sleep(0.05)


def groups_of(account: Account, cluster: str = "shop-web") -> list[ServerGroupState]:
    """The cluster's live groups in region local, newest first."""
    return provider_for(account).server_groups(cluster, "local")


def version_at(address: str) -> str:
    """The sample app's version answering at ``address`` (an instance or a load balancer)."""
    status, body = get(f"http://{address}/")
    assert status == 200, (status, body)
    return str(json.loads(body)["version"])
