"""Run the web server and a django-q2 worker cluster in one process tree, for a laptop or a demo.

The cluster is started first, from this process, so its processes are forked from a process
that has not yet served a request (they stay small); then waitress serves in a thread. This
process waits for the cluster: if it dies, everything stops. It is a child subreaper (Linux),
so processes of a cluster that died are reparented here and stopped too, not left running.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import logging
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from clouds.providers.local.runtime.client import SupervisorClient, SupervisorError
from clouds.providers.local.runtime.common import MARKER_ENV, process_environment

PR_SET_CHILD_SUBREAPER = 36
logger = logging.getLogger(__name__)


class StopServing(Exception):
    """Raised by the SIGTERM and SIGINT handlers to leave the wait for the cluster."""


def _stop_on_signal(signum: int, frame: object) -> None:
    raise StopServing


def become_subreaper() -> None:
    """Orphaned descendants get this process as their parent (Linux only; elsewhere a no-op)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def shrink_before_fork() -> None:
    """Give freed memory back before forking the cluster, so its processes start smaller.

    ``gc.freeze`` also keeps the collector from touching (and so copying) the objects the
    forked processes share with this one.
    """
    gc.collect()
    gc.freeze()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).malloc_trim(0)


def children() -> list[int]:
    """Direct children of this process (Linux ``/proc``; empty elsewhere), except the local
    provider's supervisor, instances and load balancers: being a subreaper, this process inherits
    them when the worker that started the supervisor exits, but they are meant to outlive Spinweb
    (the next supervisor adopts them), so stopping Spinweb must not stop them."""
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{os.getpid()}/task"):
            with open(f"/proc/{os.getpid()}/task/{task}/children") as handle:
                found.extend(int(pid) for pid in handle.read().split())
    return [pid for pid in found if not is_local_runtime(pid)]


def resume_local_provider() -> None:
    """After a reboot the local provider's processes are gone but its state file is not: start its
    supervisor, which starts the server groups and load balancers the file lists again."""
    from django.conf import settings

    home = Path(settings.SPINWEB_LOCAL_HOME)
    if not (home / "state.json").exists():
        return
    try:
        SupervisorClient(home, settings.SPINWEB_LOCAL_PORTS).ensure_running()
    except SupervisorError as exc:
        logger.error("The local provider's supervisor in %s did not start: %s", home, exc)


def is_local_runtime(pid: int) -> bool:
    return any(entry.startswith(f"{MARKER_ENV}=") for entry in process_environment(pid))


class Command(BaseCommand):
    help = (
        "Serve Spinweb with waitress and run a django-q2 worker cluster beside it, in one process tree. "
        "Ctrl-C or SIGTERM stops both; if the cluster dies, the web server stops too."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="Address to listen on (default 127.0.0.1).")
        parser.add_argument("--port", type=int, default=8000, help="Port to listen on (default 8000).")
        parser.add_argument("--threads", type=int, default=8, help="Web server threads (default 8).")
        parser.add_argument("--no-worker", action="store_true", help="Serve the web UI and API only.")

    def handle(self, *args: Any, host: str, port: int, threads: int, no_worker: bool, **options: Any) -> None:
        from django_q.cluster import Cluster
        from waitress import create_server

        from spinweb.wsgi import application

        become_subreaper()
        shrink_before_fork()
        cluster, died = None, False
        if not no_worker:
            cluster = Cluster()
            cluster.start()
            threading.Thread(target=resume_local_provider, name="local-provider", daemon=True).start()
        # The cluster installed its own handlers; ours stop everything in order.
        signal.signal(signal.SIGTERM, _stop_on_signal)
        signal.signal(signal.SIGINT, _stop_on_signal)
        server = create_server(application, host=host, port=port, threads=threads)
        web = threading.Thread(target=server.run, name="web", daemon=True)
        web.start()
        self.stdout.write(self.style.SUCCESS(f"Spinweb is at http://{host}:{port}/ (Ctrl-C stops it)"))
        try:
            if cluster is None:
                web.join()
            else:
                _pid, status = os.waitpid(cluster.sentinel.pid, 0)  # blocks until the cluster ends
                died, code = True, os.waitstatus_to_exitcode(status)
                raise CommandError(f"The worker cluster exited with status {code}; stopping Spinweb.")
        except StopServing:
            pass
        finally:
            server.close()
            self._stop_cluster(None if died else cluster)

    def _stop_cluster(self, cluster: Any) -> None:
        """Stop a live cluster gracefully, then anything of it still running (orphans included).

        A cluster whose sentinel died is not asked to stop: its stop event may be left locked
        by the dead process, and waiting on it would hang.
        """
        if cluster is not None:
            with contextlib.suppress(Exception):
                cluster.stop()
        deadline = time.monotonic() + 15
        while children() and time.monotonic() < deadline:
            for pid in children():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, os.WNOHANG)
            time.sleep(0.1)  # a supervisor's pause between signalling and reaping its children
        for pid in children():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
