"""The local cloud's supervisor: runs server groups and load balancers for one home directory.

    python -m clouds.providers.local.runtime.supervisor --home DIR [--ports LOW-HIGH] [--detach]

Normally started by ``SupervisorClient.ensure_running()`` (detached: its own session, stdin and
stdout on /dev/null, stderr into ``supervisor.log``), never by hand. Plain Python, no Django.

Files in the home directory (created mode 0700/0600)
----------------------------------------------------
- ``supervisor.lock``: held with ``flock`` while a supervisor runs and holds its pid. One
  supervisor per home: a second one finds it locked and exits at once with status 0.
- ``control.sock``: the control API (below), mode 0600.
- ``state.json``: desired and observed state, replaced atomically (temporary file + rename) on
  every change, so a crash leaves the previous or the next version, never half of one::

      {"version": 1,
       "serverGroups": {name: {...the SG document..., "instances": [{...instance document...,
                                                                       "index": n, "startTicks": t}]}},
       "loadBalancers": {name: {...the LB document..., "fixedPort": bool, "startTicks": t,
                                "generation": g}},
       "stopping": [{"label", "pid", "startTicks", "killAt"}]}

  ``startTicks`` is the process start time from ``/proc/<pid>/stat``; ``generation`` the number
  of the proxy config last written; ``stopping`` the processes sent SIGTERM and not yet gone.
- ``supervisor.log``; ``logs/<server group>-<n>.log`` (each instance's stdout and stderr, appended
  across restarts); ``logs/lb-<name>.log``; ``lb/<name>.json`` (each proxy's config).

Processes and adoption
----------------------
Instances and proxies start in a session of their own (``start_new_session``), so killing the
supervisor, even with SIGKILL, leaves them running. Every process of a home carries the marker
``SPINWEB_RUNTIME_HOME=<home>`` and ``SPINWEB_RUNTIME_ROLE=supervisor|instance|proxy`` in its
environment (see ``common``). On start the supervisor reads ``state.json`` and, for every recorded
pid, checks that the process is alive, started at the recorded time and carries the marker: if so
it is *adopted* (same pid, same port, health as recorded, checked again at once); if not it is
started again (``restarts`` + 1). Marked instances or proxies the state does not know (the
supervisor died between starting one and recording it) are stopped, so a crash never leaves
duplicates or orphans. SIGTERM or SIGINT to the supervisor make it exit and leave everything
running for the next one; ``POST /shutdown`` stops everything.

An instance's environment is small on purpose: PATH, HOME, LANG, LC_ALL, LC_CTYPE, TZ and TMPDIR
from the supervisor, PYTHONPATH with the project root (so ``python -m clouds...`` works), the
group's ``env``, then ``SPINWEB_INSTANCE=<id>``, ``SPINWEB_PORT=<port>`` and the marker. Nothing
else of the web server's environment (database URL, secret key) reaches it. In ``command`` only
``{port}`` is substituted. Instances run with the home as working directory.

Control API (HTTP/1.0 + JSON on ``control.sock``)
-------------------------------------------------
Errors answer ``{"error": "<sentence>"}``: 400 bad body (names the field), 404 unknown endpoint
or object, 409 conflict, 503 shutting down / no free port / proxy not answering.

- ``GET /state`` -> ``{"serverGroups": {name: SG}, "loadBalancers": {name: LB},
  "stopping": [{"label", "pid"}], "supervisor": {"pid", "startedAt", "home", "ports": [low, high]}}``

  SG = ``{"name", "command", "env", "desired", "health": {"path", "intervalSeconds",
  "timeoutSeconds"}, "instances": [{"id": "<sg>-<n>", "port", "pid" (null while down),
  "health": "STARTING"|"UP"|"DOWN", "startedAt" (ISO 8601, UTC, null before the first start),
  "restarts", "lastError" (why the last process ended, or null)}], "createdAt"}``

  LB = ``{"name", "port", "adminPort", "backends": {sg name: weight}, "pid", "lastError"}``
- ``PUT /server-groups/<name>`` ``{"command": [argv], "env": {}, "desired": n (0..100),
  "health": {"path": "/health", "intervalSeconds": 1, "timeoutSeconds": 2}}`` -> SG. Creates the
  group, or changes ``desired`` and ``health``; ``command`` and ``env`` of an existing group cannot
  change (409). The same body twice changes nothing (idempotent). Missing instances start at
  once; on scale-down the highest-numbered instances leave the proxies' configs, the answer waits
  (up to 2 s) until the proxies loaded them, then they get SIGTERM (SIGKILL 10 s later).
- ``DELETE /server-groups/<name>`` -> ``{"deleted": name}``. Takes the group out of every load
  balancer (and its configs, waited for as above), then SIGTERMs its instances (SIGKILL after
  10 s). The answer does not wait for them to exit: they are listed in ``stopping`` until gone.
- ``PUT /load-balancers/<name>`` ``{"port": 0 | 1025..65535, "backends": {sg name: weight 0..100}}``
  -> LB. Creates the proxy (port 0: one from the range; a fixed port in use: 409; the port of an
  existing load balancer cannot change: 409) or replaces its backends. Answers once the proxy
  serves the new config (503 if it does not within 8 s). Backends may name groups that do not
  exist yet; they get traffic when they have UP instances.
- ``DELETE /load-balancers/<name>`` -> ``{"deleted": name}``; the proxy gets SIGTERM and finishes
  its in-flight requests.
- ``POST /shutdown`` -> ``{"stopped": n}`` once every instance and proxy has exited; the state is
  forgotten (``state.json`` empty) and the supervisor exits right after answering.

Supervision
-----------
A loop runs at least every 0.5 s (and at once after a change): dead instances are replaced
(same id and, if still free, same port; ``restarts`` + 1; backing off up to 30 s when they keep
dying within 10 s), missing ones started on free ports of the range, dead proxies restarted.
Health: ``GET <path>`` every ``intervalSeconds`` (every 0.2 s while STARTING); a 2xx makes the
instance UP, 3 failures in a row DOWN (a port that refuses connections in the first
max(5 s, 3 intervals) counts as still starting, not as a failure); a dead process is DOWN at
once. A DOWN instance that still runs is kept, and checked, not replaced. Each proxy's config
lists only the UP instances of its backends and is rewritten (atomically, with a new
``generation``) whenever that changes.
"""

from __future__ import annotations

import argparse
import fcntl
import logging
import logging.handlers
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import IO

from .control import ControlServer
from .reconciler import Supervisor

log = logging.getLogger("spinweb.runtime.supervisor")


def parse_ports(raw: str) -> tuple[int, int]:
    low, _, high = raw.partition("-")
    try:
        first, last = int(low), int(high)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--ports must look like 20000-29999, not {raw!r}") from None
    if not 1024 < first <= last < 65536:
        raise argparse.ArgumentTypeError(f"--ports must be a range within 1025-65535, not {raw!r}")
    return first, last


def take_lock(home: Path) -> IO[str] | None:
    """The home's lock, held until this process exits; None if another supervisor holds it."""
    handle = open(home / "supervisor.lock", "a+")  # noqa: SIM115 - kept open for the process's life
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    handle.truncate(0)
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def detach() -> None:
    """Fork; the parent returns to the caller at once, the child leads a new session.

    The caller waits for the parent only, so the supervisor is nobody's child that must be reaped.
    """
    if os.fork() > 0:
        os._exit(0)
    os.setsid()


def configure_logging(home: Path) -> None:
    handler = logging.handlers.RotatingFileHandler(home / "supervisor.log", maxBytes=5_000_000, backupCount=2)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Supervise the local cloud's processes for one home.")
    parser.add_argument("--home", required=True, type=Path)
    parser.add_argument("--ports", type=parse_ports, default=(20000, 29999))
    parser.add_argument("--detach", action="store_true", help="fork into the background first")
    args = parser.parse_args(argv)
    home: Path = args.home.resolve()
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    if args.detach:
        detach()
    os.umask(0o077)
    lock = take_lock(home)
    if lock is None:
        print(f"a supervisor already runs for {home}", file=sys.stderr)
        return 0
    configure_logging(home)
    return serve(home, args.ports)


def serve(home: Path, ports: tuple[int, int]) -> int:
    supervisor = Supervisor(home, ports)
    supervisor.adopt()
    server = ControlServer(home / "control.sock", supervisor)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="control", daemon=True).start()

    def leave(signum: int, frame: FrameType | None) -> None:
        log.info("signal %s: exiting, processes keep running", signum)
        supervisor.stopped.set()
        supervisor.wake.set()

    signal.signal(signal.SIGTERM, leave)
    signal.signal(signal.SIGINT, leave)
    log.info("supervisor %s serving %s (ports %s-%s)", os.getpid(), home, *ports)
    try:
        supervisor.run()
    finally:
        server.shutdown()
        server.server_close()  # waits for a shutdown request to finish answering
        (home / "control.sock").unlink(missing_ok=True)
        supervisor.close()
        log.info("supervisor %s exited", os.getpid())
    return 0


if __name__ == "__main__":
    sys.exit(main())
