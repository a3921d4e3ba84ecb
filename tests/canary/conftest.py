"""Fixtures shared by the canary tests: moto's CloudWatch server on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from moto.server import ThreadedMotoServer
from pytest_django.fixtures import Settings

from tests.canary.prometheus import free_port


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def moto(credentials: None, settings: Settings) -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    try:
        settings.SPINWEB_CLOUDWATCH_ENDPOINT = f"http://127.0.0.1:{port}"
        # moto keeps its backends per process, not per server: start every test from nothing.
        requests.post(f"{settings.SPINWEB_CLOUDWATCH_ENDPOINT}/moto-api/reset", timeout=10).raise_for_status()
        yield settings.SPINWEB_CLOUDWATCH_ENDPOINT
    finally:
        server.stop()
