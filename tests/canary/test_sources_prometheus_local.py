"""The Prometheus source against a real Prometheus scraping a real local load balancer's admin /metrics."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pytest_django.fixtures import Settings

from canary.sources import Scope, Series, source_for
from clouds.providers.local.runtime.client import SupervisorClient
from clouds.providers.local.traffic import TrafficGenerator
from tests.canary.prometheus import needs_prometheus, running_prometheus
from tests.clouds.local.conftest import LocalHome, sample_command, wait_for_group, wait_until
from tests.clouds.local.fixtures import local_home, local_runtime

__all__ = ["local_home", "local_runtime", "sample_command"]
pytestmark = needs_prometheus
GROUP = "shop-web-v001"
RATE = {
    "type": "prometheus",
    "customInlineTemplate": 'PromQL: sum(rate(spinweb_lb_requests_total{server_group="${scope}"}[5s]))',
}


def rates(since: datetime) -> Series | None:
    end = datetime.now(UTC)
    if end < since + timedelta(seconds=3):
        return None
    series = source_for("prometheus").fetch({"name": "rps", "query": RATE}, Scope(GROUP, "local", since, end, 1))
    return series if sum(1 for value in series.values if value > 0) >= 3 else None


def test_it_reads_the_request_rate_of_a_local_load_balancer(
    local_runtime: LocalHome, sample_command: list[str], settings: Settings, tmp_path: Path
) -> None:
    client: SupervisorClient = local_runtime.client()
    client.ensure_running()
    client.put_server_group(GROUP, command=sample_command, desired=1)
    wait_for_group(client, GROUP, up=1)
    balancer = client.put_load_balancer("shop-web", 0, {GROUP: 100})

    with running_prometheus([f"127.0.0.1:{balancer.admin_port}"], tmp_path / "prometheus") as base:
        settings.SPINWEB_PROMETHEUS_URL = base
        since = datetime.now(UTC)
        with TrafficGenerator(f"http://{balancer.address}/", rate=20):
            series = wait_until(lambda: rates(since), 30, "three steps with a request rate")
    assert series is not None

    served = [value for value in series.values if not math.isnan(value) and value > 0]
    assert 5 < sum(served) / len(served) < 40
    assert series.query == f'sum(rate(spinweb_lb_requests_total{{server_group="{GROUP}"}}[5s]))'
