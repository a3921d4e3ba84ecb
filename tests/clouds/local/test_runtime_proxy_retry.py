"""The proxy on its own: a refused connection is retried on another instance; its config reloads live."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from clouds.providers.local.runtime.common import write_json_atomic
from tests.http_server import closed_port

from .conftest import Spawn, free_port_range, get, start_sample_app, wait_until


def config(ports: tuple[int, int], generation: int, *backends: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "shop-web",
        "port": ports[0],
        "adminPort": ports[1],
        "generation": generation,
        "backends": list(backends),
    }


def backend(group: str, weight: int, *addresses: str) -> dict[str, Any]:
    instances = [{"id": f"{group}-{n}", "address": address} for n, address in enumerate(addresses)]
    return {"serverGroup": group, "weight": weight, "instances": instances}


def start_proxy(spawn: Spawn, path: Path) -> tuple[str, str]:
    ports = json.loads(path.read_text())
    spawn([sys.executable, "-m", "clouds.providers.local.runtime.proxy", "--config", str(path)])
    admin = f"http://127.0.0.1:{ports['adminPort']}"
    wait_until(lambda: generation(admin) is not None, 10, "the proxy to listen")
    return f"http://127.0.0.1:{ports['port']}", admin


def generation(admin: str) -> int | None:
    try:
        return int(json.loads(get(f"{admin}/status", timeout=1)[1])["generation"])
    except OSError:
        return None


def test_it_retries_a_refused_request_on_another_instance(spawn: Spawn, tmp_path: Path) -> None:
    _, live = start_sample_app(spawn, SPINWEB_INSTANCE="web-1")
    path = tmp_path / "lb.json"
    with closed_port() as dead:
        low, _ = free_port_range(2)
        write_json_atomic(path, config((low, low + 1), 1, backend("web", 100, f"127.0.0.1:{dead}", live[7:])))
        url, admin = start_proxy(spawn, path)

        answers = [get(url) for _ in range(6)]

    assert [(status, json.loads(body)["instance"]) for status, body in answers] == [(200, "web-1")] * 6
    _, metrics = get(f"{admin}/metrics")
    assert (
        'spinweb_lb_errors_total{instance="web-0",load_balancer="shop-web",server_group="web"} 3.0' in metrics.decode()
    )


def test_it_answers_502_when_no_instance_can_be_reached(spawn: Spawn, tmp_path: Path) -> None:
    path = tmp_path / "lb.json"
    with closed_port() as first, closed_port() as second:
        low, _ = free_port_range(2)
        write_json_atomic(
            path, config((low, low + 1), 1, backend("web", 100, f"127.0.0.1:{first}", f"127.0.0.1:{second}"))
        )
        url, _ = start_proxy(spawn, path)

        assert get(url)[0] == 502


def test_it_reloads_its_config_when_the_file_is_replaced(spawn: Spawn, tmp_path: Path) -> None:
    _, one = start_sample_app(spawn, SPINWEB_INSTANCE="one-0")
    _, two = start_sample_app(spawn, SPINWEB_INSTANCE="two-0")
    path = tmp_path / "lb.json"
    low, _ = free_port_range(2)
    write_json_atomic(path, config((low, low + 1), 1, backend("one", 100, one[7:]), backend("two", 0, two[7:])))
    url, admin = start_proxy(spawn, path)
    assert json.loads(get(url)[1])["instance"] == "one-0"

    write_json_atomic(path, config((low, low + 1), 2, backend("one", 0, one[7:]), backend("two", 100, two[7:])))
    wait_until(lambda: generation(admin) == 2, 5, "the proxy to load generation 2")

    assert {json.loads(get(url)[1])["instance"] for _ in range(5)} == {"two-0"}
