"""Fixtures for tests that deploy to the local cloud through the provider interface.

Import them into a test module (or a conftest) to use them anywhere in the suite::

    from tests.clouds.local.fixtures import local_account, local_home, local_runtime  # noqa: F401

- ``local_runtime`` -> ``LocalHome``: the runtime conftest's temporary home, with
  ``settings.SPINWEB_LOCAL_HOME`` and ``SPINWEB_LOCAL_PORTS`` pointed at it, so the local driver
  starts its supervisor there; every process is stopped when the test ends, also on failure.
- ``local_account`` -> the account ``local`` (region ``local``) whose artifact ``sample`` runs the
  sample app (``SAMPLE_VERSION`` = the deployed version; a deploy may set ``SAMPLE_LATENCY_MS``,
  ``SAMPLE_ERROR_RATE`` and ``SAMPLE_FAIL_HEALTH``). It overrides the suite's plain
  ``local_account`` in the modules that import it, so ``shop_cluster`` and friends keep working.
- ``sample_spec(**fields)`` builds a ``ServerGroupSpec`` for shop-web of artifact sample v1.
"""

from __future__ import annotations

from typing import Any

import pytest
from pytest_django.fixtures import Settings

from clouds.models import Account
from clouds.providers.base import ArtifactRef, Capacity, HealthCheck, ServerGroupSpec
from clouds.providers.local.driver import SAMPLE_ARTIFACT
from tests.clouds.local.conftest import LocalHome, local_home

__all__ = ["local_account", "local_home", "local_runtime", "sample_spec"]


@pytest.fixture
def local_runtime(local_home: LocalHome, settings: Settings) -> LocalHome:
    settings.SPINWEB_LOCAL_HOME = local_home.path
    settings.SPINWEB_LOCAL_PORTS = local_home.ports
    return local_home


@pytest.fixture
def local_account(local_runtime: LocalHome, db: None) -> Account:
    return Account.objects.create(
        name="local", provider="local", regions=["local"], environment="dev", artifacts={"sample": SAMPLE_ARTIFACT}
    )


def sample_spec(**fields: Any) -> ServerGroupSpec:
    values: dict[str, Any] = {
        "application": "shop",
        "account": "local",
        "region": "local",
        "stack": "web",
        "artifact": ArtifactRef("sample", "v1"),
        "capacity": Capacity(1, 1, 1),
        "health_check": HealthCheck(interval_seconds=0.2),
        "load_balancers": ["shop-web"],
    }
    values.update(fields)
    return ServerGroupSpec(**values)
