"""On the embedded SQLite database, the web server and the workers are separate processes that
write to one file. Read-then-write transactions from several of them must wait their turn, not
fail with "database is locked" (the cron scheduler's claim is one such transaction)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.spinweb.test_settings import ROOT, clean_env, run_manage

ROUNDS = 300
# Each round reads the counter and writes it back plus one, in one transaction.
COUNT = f"""
from django.db import transaction
from applications.models import Application
for _ in range({ROUNDS}):
    with transaction.atomic():
        app = Application.objects.get(name="counter")
        app.description = str(int(app.description) + 1)
        app.save(update_fields=["description"])
"""


def test_it_serializes_writers_from_several_processes(tmp_path: Path) -> None:
    setup = run_manage(tmp_path, "migrate", "-v0")
    assert setup.returncode == 0, setup.stderr
    made = run_manage(
        tmp_path, "shell", "-c", "from applications.models import Application as A; A.objects.create(name='counter', "
        "owner_email='c@example.com', description='0')"
    )  # fmt: skip
    assert made.returncode == 0, made.stderr

    writers = [
        subprocess.Popen(
            [sys.executable, "manage.py", "shell", "-c", COUNT],
            cwd=ROOT,
            env=clean_env(tmp_path),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    try:
        results = [writer.communicate(timeout=120) for writer in writers]
    finally:
        for writer in writers:
            writer.kill()

    for writer, (_out, err) in zip(writers, results, strict=True):
        assert writer.returncode == 0, err
    shown = run_manage(
        tmp_path, "shell", "-c", "from applications.models import Application as A; "
        "print(A.objects.get(name='counter').description)"
    )  # fmt: skip
    assert shown.stdout.strip().splitlines()[-1] == str(3 * ROUNDS)
