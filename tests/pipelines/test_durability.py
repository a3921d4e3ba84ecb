"""Executions survive workers killed with SIGKILL at random moments (real processes, PostgreSQL).

The test makes its own PostgreSQL database, starts two real ``qcluster`` worker clusters, saves
and starts pipelines through the CLI, and while they run kills whole clusters or single worker
processes with SIGKILL, starting replacements. Every execution must end SUCCEEDED and every
side effect must have happened exactly once (see ``side_effect_stage.py``).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.components import port_open, require

ROOT = Path(__file__).resolve().parents[2]
EXECUTIONS = 20
STAGES = ["1", "2", "3", "4"]
SEED = 20261127


def pipeline(folder: Path) -> dict[str, object]:
    def effect(ref: str, requires: list[str]) -> dict[str, object]:
        return {
            "refId": ref,
            "type": "sideEffect",
            "name": f"Effect {ref}",
            "requisiteStageRefIds": requires,
            "directory": str(folder),
            "durationMs": 300,
        }

    # A diamond: one stage, two parallel branches, a join.
    return {
        "application": "durable",
        "name": "diamond",
        "limitConcurrent": False,
        "stages": [effect("1", []), effect("2", ["1"]), effect("3", ["1"]), effect("4", ["2", "3"])],
    }


@pytest.fixture
def database() -> Iterator[str]:
    require(port_open("127.0.0.1", 5432), "no PostgreSQL on 127.0.0.1:5432")
    name = f"spinweb_durability_{uuid.uuid4().hex[:8]}"
    admin = "postgresql://postgres@127.0.0.1:5432/postgres"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgres://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Workers:
    """Real qcluster processes, each leading its own process group so SIGKILL takes it all."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.clusters: list[subprocess.Popen[bytes]] = []

    def start(self) -> None:
        self.clusters.append(
            subprocess.Popen(
                [sys.executable, "manage.py", "qcluster"],
                cwd=ROOT,
                env=self.env,
                start_new_session=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )

    def kill_cluster(self, rng: random.Random) -> None:
        victim = self.clusters.pop(rng.randrange(len(self.clusters)))
        os.killpg(victim.pid, signal.SIGKILL)
        victim.wait()

    def kill_one_worker(self, rng: random.Random) -> bool:
        """SIGKILL one worker process of a cluster; its guard starts another."""
        cluster = rng.choice(self.clusters)
        children = Path(f"/proc/{cluster.pid}/task/{cluster.pid}/children")
        pids = [int(pid) for pid in children.read_text().split()] if children.exists() else []
        if not pids:
            return False
        os.kill(rng.choice(pids), signal.SIGKILL)
        return True

    def stop(self) -> None:
        for cluster in self.clusters:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(cluster.pid, signal.SIGKILL)
            cluster.wait()


def manage(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"manage.py {' '.join(args)} failed:\n{result.stderr}"
    return result.stdout


START = """
from applications.models import Application
from pipelines import actions
from pipelines.models import Pipeline
pipeline = Pipeline.objects.get(name="diamond")
ids = [str(actions.start_execution(None, pipeline, source="cli").id) for _ in range({count})]
print("IDS", ",".join(ids))
"""

STATUS = """
import json
from pipelines.models import Execution
print("STATUS", json.dumps({str(pk): status for pk, status in Execution.objects.values_list("id", "status")}))
"""


def test_it_finishes_every_execution_with_each_side_effect_once_while_workers_die(
    database: str, tmp_path: Path
) -> None:
    effects = tmp_path / "effects"
    effects.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL", "SPINWEB_"))}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.update(
        {
            "DATABASE_URL": database,
            "SPINWEB_DATA_DIR": str(tmp_path / "data"),
            "SPINWEB_WORKERS": "2",
            "SPINWEB_TASK_LEASE_SECONDS": "3",
            "SPINWEB_TASK_TIMEOUT": "60",
            "SPINWEB_EXTRA_STAGE_MODULES": "tests.pipelines.side_effect_stage",
            "SPINWEB_QUEUE_NAME": f"durability-{tmp_path.name}",
        }
    )
    manage(env, "migrate", "-v0")
    manage(
        env,
        "shell",
        "-c",
        "from applications.models import Application; "
        "Application.objects.create(name='durable', owner_email='d@example.com')",
    )
    (tmp_path / "diamond.json").write_text(json.dumps(pipeline(effects)))
    manage(env, "pipeline", "save", "-f", str(tmp_path / "diamond.json"))

    workers, rng = Workers(env), random.Random(SEED)
    kills = 0
    try:
        workers.start()
        workers.start()
        ids = manage(env, "shell", "-c", START.format(count=EXECUTIONS)).split("IDS ")[1].strip().split(",")
        deadline = time.monotonic() + 180
        statuses: dict[str, str] = {}
        while time.monotonic() < deadline:
            statuses = json.loads(manage(env, "shell", "-c", STATUS).split("STATUS ")[1])
            if all(statuses.get(i) in {"SUCCEEDED", "TERMINAL", "CANCELED"} for i in ids):
                break
            if kills < 8:
                if rng.random() < 0.5:
                    workers.kill_cluster(rng)
                    workers.start()
                else:
                    workers.kill_one_worker(rng)
                kills += 1
        assert [statuses.get(i) for i in ids] == ["SUCCEEDED"] * EXECUTIONS, statuses
    finally:
        workers.stop()

    assert kills >= 4, "the test must actually kill workers while executions run"
    done = [json.loads(path.read_text()) for path in effects.glob("effect-*")]
    per_stage = Counter((effect.get("execution"), effect.get("stage")) for effect in done)
    assert len(list(effects.glob("effect-*"))) == EXECUTIONS * len(STAGES)
    assert all(count == 1 for count in per_stage.values())
    attempts = (effects / "attempts.log").read_text().splitlines()
    print(f"{kills} kills, {len(attempts)} attempts for {len(done)} side effects")
