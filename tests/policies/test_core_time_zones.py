"""Time-zone builtins in a real Spinweb process.

With numpy's bundled libraries loaded before rego-cpp, ``time.clock([ns, zone])`` and
``time.weekday`` crash the process (seen: SIGSEGV / SIGABRT within a few hundred evaluations).
Spinweb loads regopy first (``spinweb/__init__.py``); this keeps it so, in a fresh process that
imports what a worker imports.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import os
os.environ["DJANGO_SETTINGS_MODULE"] = "spinweb.settings"
import django
django.setup()
import numpy  # noqa: F401 (the canary judge imports it in every worker)
from policies.engines.embedded import evaluate_source
from policies.hooks import Hook

SOURCE = '''package spinnaker.execution.stages.before.deploy
import rego.v1
clock := time.clock([input.meta.timeNs, "Europe/Paris"])
day := time.weekday([input.meta.timeNs, "Europe/Paris"])
deny contains msg if {
    clock[0] >= 17
    msg := concat("", ["It is ", day, " evening in Paris."])
}
'''
for offset in range(400):
    answer = evaluate_source(SOURCE, Hook.STAGE, {"meta": {"timeNs": 1795802400000000000 + offset}}, {})
print(answer.messages)
"""


def test_it_evaluates_time_zone_builtins_in_a_process_that_also_loads_numpy(tmp_path: Path) -> None:
    environment = {**os.environ, "SPINWEB_DATA_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    environment.pop("DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    # 2026-11-27 18:00 UTC is 19:00 in Paris on a Friday.
    assert done.stdout.strip() == "['It is Friday evening in Paris.']"
