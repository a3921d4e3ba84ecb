"""Run the web server and a django-q2 worker cluster together, for a laptop or a demo."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser


class StopServing(Exception):
    """Raised by the SIGTERM handler to leave the wait for the children."""


def _stop_on_signal(signum: int, frame: object) -> None:
    raise StopServing


class Command(BaseCommand):
    help = (
        "Serve Spinweb with waitress and run a django-q2 worker cluster beside it. "
        "Stops both on Ctrl-C, and stops the other when one of them exits."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="Address to listen on (default 127.0.0.1).")
        parser.add_argument("--port", type=int, default=8000, help="Port to listen on (default 8000).")
        parser.add_argument("--threads", type=int, default=8, help="Web server threads (default 8).")
        parser.add_argument("--no-worker", action="store_true", help="Serve the web UI and API only.")

    def handle(self, *args: Any, host: str, port: int, threads: int, no_worker: bool, **options: Any) -> None:
        web = [
            sys.executable,
            "-m",
            "waitress",
            f"--listen={host}:{port}",
            f"--threads={threads}",
            "spinweb.wsgi:application",
        ]
        # Each child leads its own process group, so whatever it forked can be stopped with it,
        # even when the child itself died without stopping its own children.
        children = {"web server": subprocess.Popen(web, start_new_session=True)}  # noqa: S603 (fixed arguments)
        if not no_worker:
            worker = [sys.executable, str(settings.BASE_DIR / "manage.py"), "qcluster"]
            children["worker"] = subprocess.Popen(worker, start_new_session=True)  # noqa: S603
        self.stdout.write(self.style.SUCCESS(f"Spinweb is at http://{host}:{port}/ (Ctrl-C stops it)"))
        signal.signal(signal.SIGTERM, _stop_on_signal)
        try:
            pid, status = os.wait()  # blocks until one of the children exits
            name = next((name for name, child in children.items() if child.pid == pid), "child")
            code = os.waitstatus_to_exitcode(status)
            raise CommandError(f"The {name} exited with status {code}; stopping Spinweb.")
        except (KeyboardInterrupt, StopServing):
            pass
        finally:
            self._stop(children)

    def _stop(self, children: dict[str, subprocess.Popen[bytes]]) -> None:
        for child in children.values():
            if child.poll() is None:
                child.terminate()
        deadline = time.monotonic() + 15
        for child in children.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)  # leftovers: orphans of a child that died
            child.wait()
