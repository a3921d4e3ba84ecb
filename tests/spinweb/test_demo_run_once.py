"""``manage.py demo --run-once``: a blue/green deploy from v1 to v2 under traffic, with nothing left behind.

The command runs as a subprocess with a fresh data directory (its own SQLite database) and a
local home inside it, as CI would run it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from clouds.providers.local.runtime.common import ROLES, marked_processes, port_is_free
from tests.clouds.local.conftest import LocalHome, free_port_range, stop_everything

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def data_dir() -> Iterator[Path]:
    # Short, under /tmp: the local home's control socket path must fit in 107 bytes.
    path = Path(tempfile.mkdtemp(prefix="swd-", dir="/tmp"))
    try:
        yield path
    finally:
        stop_everything(LocalHome(path / "local", (0, 0)))
        shutil.rmtree(path, ignore_errors=True)


def run_demo(data_dir: Path, ports: tuple[int, int]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL", "SPINWEB_"))}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env |= {
        "SPINWEB_DATA_DIR": str(data_dir),
        "SPINWEB_LOCAL_HOME": str(data_dir / "local"),
        "SPINWEB_LOCAL_PORTS": f"{ports[0]}-{ports[1]}",
    }
    argv = [sys.executable, "manage.py", "demo", "--run-once", "--instances", "1", "--timeout", "60"]
    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)


def test_it_deploys_v2_with_blue_green_without_a_failed_request_and_leaves_nothing_running(data_dir: Path) -> None:
    ports = free_port_range()

    result = run_demo(data_dir, ports)

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert re.search(r"pipeline:\s+Blue/Green: SUCCEEDED", output), output
    assert re.search(r"time to 100 % on v2:\s+\d+\.\d s after the pipeline started", output), output
    sent = re.search(r"requests sent:\s+(\d+)", output)
    assert sent is not None, output
    assert int(sent.group(1)) > 0, output
    assert re.search(r"requests failed:\s+0\n", output), output
    assert marked_processes(data_dir / "local", (*ROLES, "traffic")) == {}
    assert [port for port in range(ports[0], ports[1] + 1) if not port_is_free(port)] == []
