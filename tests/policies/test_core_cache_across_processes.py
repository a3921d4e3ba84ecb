"""Each process keeps its compiled policy set and checks the generation before every decision
(one query): a change saved by another process reaches the next decision, nothing more is read
while nothing changes."""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from policies import gate
from policies.hooks import EXECUTION_PACKAGE, Hook
from tests.policies.conftest import MakePolicy, deny_source

ROOT = Path(__file__).resolve().parents[2]

READER = """
import json, sys
from policies import gate
from policies.hooks import Hook, EXECUTION_PACKAGE
for line in sys.stdin:
    d = gate.decide(Hook.EXECUTION, EXECUTION_PACKAGE, {"user": {"username": "reader"}})
    print("DECISION", json.dumps({"allowed": d.allowed, "denials": d.denials}), flush=True)
"""

WRITER = """
from policies.actions import save_policy
from policies.models import Policy
source = 'package spinnaker.execution.pipelines.before\\nimport rego.v1\\ndeny contains "frozen" if true\\n'
existing = Policy.objects.filter(name="freeze").first()
save_policy(None, name="freeze", source=source, enabled={enabled}, policy=existing, source_label="cli")
"""


class Reader:
    """A long-lived second process that decides on request, keeping its own policy cache."""

    def __init__(self, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "shell", "-v0", "-c", READER],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def decide(self, timeout: float = 30.0) -> dict[str, Any]:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write("decide\n")
        self.process.stdin.flush()
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if not selector.select(timeout=deadline - time.monotonic()):
                    continue
                line = self.process.stdout.readline()
                if not line:
                    break
                if line.startswith("DECISION "):
                    return dict(json.loads(line.removeprefix("DECISION ")))
        raise AssertionError("the second process did not answer")

    def stop(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def database_env(tmp_path: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in {"DATABASE_URL", "OPA_URL"}}
    env["SPINWEB_DATA_DIR"] = str(tmp_path)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--skip-checks", "-v0"], cwd=ROOT, env=env, check=True, timeout=120
    )
    return env


def write(env: dict[str, str], enabled: bool) -> None:
    script = WRITER.format(enabled=enabled)
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-v0", "-c", script], cwd=ROOT, env=env, check=True, timeout=60
    )


def test_it_sees_a_policy_change_made_by_another_process(database_env: dict[str, str]) -> None:
    reader = Reader(database_env)
    try:
        assert reader.decide() == {"allowed": True, "denials": []}
        write(database_env, enabled=True)
        assert reader.decide() == {"allowed": False, "denials": ["Denied by policy freeze: frozen"]}
        write(database_env, enabled=False)
        assert reader.decide() == {"allowed": True, "denials": []}
    finally:
        reader.stop()


@pytest.mark.django_db
def test_it_reads_only_the_generation_while_nothing_changes(make_policy: MakePolicy) -> None:
    make_policy(deny_source(EXECUTION_PACKAGE, "frozen"), name="freeze")
    gate.decide(Hook.EXECUTION, EXECUTION_PACKAGE, {"user": {}}, dry_run=True)
    with CaptureQueriesContext(connection) as queries:
        decision = gate.decide(Hook.SAVE, "spinnaker.persistence.pipelines.before", {"user": {}})
    assert decision.evaluated == 0
    assert len(queries) == 1
    assert "generation" in queries[0]["sql"]
