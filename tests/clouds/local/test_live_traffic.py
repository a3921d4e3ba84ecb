"""The clusters page's live figures of a local load balancer: what happened between two reads."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache

from applications.models import Application
from clouds.live_traffic import live_traffic
from clouds.models import Account, LoadBalancer
from clouds.providers.local.runtime.client import SupervisorClient
from tests.conftest import browser_as

from .conftest import LocalHome, get, wait_for_group


def send(address: str, count: int) -> None:
    for _ in range(count):
        get(f"http://{address}/")


@pytest.mark.django_db
def test_it_reports_rate_success_and_shares_between_two_reads(
    local_home: LocalHome, supervisor: SupervisorClient, sample_command: list[str], shop: Application, settings: Any
) -> None:
    settings.SPINWEB_LOCAL_HOME = local_home.path
    cache.clear()
    supervisor.put_server_group("shop-web-v000", command=sample_command, desired=1)
    supervisor.put_server_group("shop-web-v001", command=sample_command, desired=1, env={"SAMPLE_ERROR_RATE": "1"})
    wait_for_group(supervisor, "shop-web-v000", up=1)
    wait_for_group(supervisor, "shop-web-v001", up=1)
    lb = supervisor.put_load_balancer("shop-web", 0, {"shop-web-v000": 100})
    account = Account.objects.create(name="local", provider="local", regions=["local"])
    row = LoadBalancer.objects.create(
        application=shop, account=account, name="shop-web", region="local", address=lb.address
    )

    send(lb.address, 20)
    first = live_traffic(row, now=100.0)
    send(lb.address, 30)
    second = live_traffic(row, now=105.0)
    supervisor.put_load_balancer("shop-web", lb.port, {"shop-web-v001": 100})
    send(lb.address, 10)
    third = live_traffic(row, now=107.0)

    assert first is not None
    assert first.window_seconds is None  # nothing to compare with yet
    assert (first.requests, first.success_rate, first.shares) == (20, 100.0, {"shop-web-v000": 100.0})
    assert second is not None
    assert (second.requests, second.requests_per_second, second.window_seconds) == (30, 6.0, 5.0)
    assert (second.success_rate, second.shares) == (100.0, {"shop-web-v000": 100.0})
    assert second.p50_ms is not None
    assert second.p95_ms is not None
    assert third is not None
    assert (third.requests, third.success_rate, third.shares) == (10, 0.0, {"shop-web-v001": 100.0})


@pytest.mark.django_db
def test_it_has_nothing_to_say_about_a_load_balancer_that_does_not_answer(shop: Application) -> None:
    account = Account.objects.create(name="local", provider="local", regions=["local"])
    row = LoadBalancer.objects.create(
        application=shop, account=account, name="shop-web", region="local", address="127.0.0.1:1"
    )
    assert live_traffic(row) is None


@pytest.mark.django_db
def test_it_shows_live_traffic_on_the_clusters_page(
    local_home: LocalHome,
    supervisor: SupervisorClient,
    sample_command: list[str],
    shop: Application,
    viewer: User,
    outsider: User,
    settings: Any,
) -> None:
    settings.SPINWEB_LOCAL_HOME = local_home.path
    cache.clear()
    supervisor.put_server_group("shop-web-v000", command=sample_command, desired=1)
    wait_for_group(supervisor, "shop-web-v000", up=1)
    lb = supervisor.put_load_balancer("shop-web", 0, {"shop-web-v000": 100})
    account = Account.objects.create(name="local", provider="local", regions=["local"])
    LoadBalancer.objects.create(application=shop, account=account, name="shop-web", region="local", address=lb.address)
    url = "/applications/shop/clusters/traffic/"

    send(lb.address, 4)
    first = browser_as(viewer).get(url).content.decode()
    send(lb.address, 6)
    second = browser_as(viewer).get(url).content.decode()

    assert "4 since start" in first
    assert re.search(r"[\d.]+ req/s <small class=\"muted\">\(last [\d.]+ s\)</small>", second)
    assert "100.0 %" in second
    assert "shop-web-v000 100.0 %" in second
    assert browser_as(outsider).get(url).status_code == 404
    assert (
        'hx-get="/applications/shop/clusters/traffic/"'
        in browser_as(viewer).get("/applications/shop/clusters/").content.decode()
    )
