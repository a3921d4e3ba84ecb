"""The supervisor's brain: desired state in, processes out. See ``supervisor`` for the contract.

One re-entrant lock guards the state, the child ``Popen`` objects and the files written from the
state (``state.json``, the proxies' configs). Control requests change the state under the lock
and may then wait, without it, for the proxies to load a new config before stopping processes,
so that no request is sent to an instance that is already going away.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from .common import (
    LOOPBACK,
    MARKER_ENV,
    ROLE_ENV,
    base_environment,
    is_alive,
    is_ours,
    marked_processes,
    now_iso,
    port_is_free,
    signal_group,
    start_ticks,
    write_json_atomic,
)
from .probes import PortAllocator, Probe, check_health, proxy_generation
from .state import (
    Instance,
    LoadBalancer,
    LoadBalancerRequest,
    RequestError,
    ServerGroup,
    ServerGroupRequest,
    State,
    Stopping,
    check_name,
)

log = logging.getLogger("spinweb.runtime.supervisor")

STOP_GRACE_SECONDS = 10.0
FAILURES_FOR_DOWN = 3
STARTING_CHECK_SECONDS = 0.2
QUICK_DEATH_SECONDS = 10.0
PROXY_APPLY_SECONDS = 2.0
PROXY_START_SECONDS = 8.0
ADDRESS_IN_USE_EXIT = 3


class Supervisor:
    """Keeps the desired server groups and load balancers running for one home directory."""

    def __init__(self, home: Path, ports: tuple[int, int]) -> None:
        self.home = home.resolve()
        self.ports = ports
        self.lock = threading.RLock()
        self.wake = threading.Event()
        self.stopped = threading.Event()
        self.shutting_down = False
        self.state = State()
        self.started_at = now_iso()
        self._children: dict[int, subprocess.Popen[bytes]] = {}
        self._exits: dict[int, int] = {}
        self._allocator = PortAllocator(*ports)
        self._checks = ThreadPoolExecutor(max_workers=16, thread_name_prefix="health")
        self._persisted = ""
        self._configs: dict[str, str] = {}

    @property
    def state_path(self) -> Path:
        return self.home / "state.json"

    def config_path(self, name: str) -> Path:
        return self.home / "lb" / f"{name}.json"

    # ----------------------------------------------------------------- adoption

    def adopt(self) -> None:
        """Load ``state.json`` and take over what still runs; stop marked processes nobody knows."""
        with self.lock:
            self.state = self._load_state()
            for group in self.state.server_groups.values():
                for instance in group.instances:
                    self._adopt_process(instance, f"instance {instance.id}")
            for lb in self.state.load_balancers.values():
                self._adopt_process(lb, f"load balancer {lb.name}")
                self._configs[lb.name] = self._read_config(lb.name)
            self.state.stopping = [item for item in self.state.stopping if is_ours(item.pid, item.ticks, self.home)]
            self._stop_strangers()
            self._terminate(self.state.stopping)
            self._persist()

    def _load_state(self) -> State:
        try:
            return State.from_record(json.loads(self.state_path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return State()
        except (OSError, ValueError, KeyError, TypeError) as error:
            aside = self.state_path.with_name(f"state.json.unreadable-{int(time.time())}")
            with contextlib.suppress(OSError):
                self.state_path.rename(aside)
            log.error("state.json could not be read (%s); kept as %s, starting empty", error, aside.name)
            return State()

    def _adopt_process(self, item: Instance | LoadBalancer, label: str) -> None:
        if item.pid is not None and is_ours(item.pid, item.ticks, self.home):
            item.started_mono = time.monotonic() - QUICK_DEATH_SECONDS
            log.info("adopted %s (pid %s)", label, item.pid)
            return
        if item.pid is not None:
            log.info("%s (pid %s) did not survive; starting it again", label, item.pid)
            item.last_error = "stopped while the supervisor was away"
        item.pid, item.ticks = None, None
        if isinstance(item, Instance):
            item.health = "DOWN"

    def _read_config(self, name: str) -> str:
        try:
            config = json.loads(self.config_path(name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return ""
        config.pop("generation", None)
        return json.dumps(config, sort_keys=True)

    def _stop_strangers(self) -> None:
        """Instances and proxies of this home that the state does not know (a crash right after a start)."""
        known = {item.pid for item in self._processes()} | {item.pid for item in self.state.stopping}
        for pid, role in marked_processes(self.home, ("instance", "proxy")).items():
            if pid not in known:
                log.warning("stopping unknown %s process %s of this home", role, pid)
                self.state.stopping.append(Stopping(f"unknown {role}", pid, start_ticks(pid)))

    def _processes(self) -> list[Stopping]:
        found = [
            Stopping(instance.id, instance.pid, instance.ticks)
            for group in self.state.server_groups.values()
            for instance in group.instances
            if instance.pid is not None
        ]
        found += [
            Stopping(f"lb {lb.name}", lb.pid, lb.ticks)
            for lb in self.state.load_balancers.values()
            if lb.pid is not None
        ]
        return found

    # ----------------------------------------------------------------- the loop

    def run(self) -> None:
        """Supervise until ``stopped`` is set (by shutdown or a signal)."""
        while not self.stopped.is_set():
            try:
                pause = self.tick()
            except Exception:
                log.exception("supervision round failed")
                pause = 0.5
            self.wake.wait(pause)
            self.wake.clear()

    def tick(self) -> float:
        """One round: replace the dead, start the missing, send due health checks. Returns the pause."""
        with self.lock:
            if self.shutting_down:
                return 0.5
            now = time.monotonic()
            for group in self.state.server_groups.values():
                self._supervise_group(group, now)
            for lb in self.state.load_balancers.values():
                self._supervise_proxy(lb, now)
            self._advance_stopping()
            self._write_configs()
            self._persist()
            return self._schedule_checks(now)

    def _alive(self, pid: int, ticks: int | None) -> bool:
        child = self._children.get(pid)
        if child is not None:
            code = child.poll()
            if code is None:
                return True
            self._exits[pid] = code
            del self._children[pid]
            return False
        return is_alive(pid, ticks)

    def _exit_code(self, pid: int) -> int | None:
        """How a child that ``_alive`` found dead ended (None for an adopted process: not ours to reap)."""
        return self._exits.pop(pid, None)

    def _exit_note(self, pid: int) -> str:
        code = self._exit_code(pid)
        return "exited" if code is None else f"exited with status {code}"

    def _supervise_group(self, group: ServerGroup, now: float) -> None:
        taken = {instance.index for instance in group.instances}
        for index in range(group.desired):
            if index not in taken:
                port = self._allocate_or_none()
                if port is not None:
                    group.instances.append(Instance(index, f"{group.name}-{index}", port))
        group.instances.sort(key=lambda instance: instance.index)
        for instance in group.instances:
            if instance.pid is not None and not self._alive(instance.pid, instance.ticks):
                self._record_death(instance, now)
            if instance.pid is None and now >= instance.next_start:
                self._start_instance(group, instance, now)

    def _stop_surplus(self, group: ServerGroup) -> list[Stopping]:
        surplus = [instance for instance in group.instances if instance.index >= group.desired]
        group.instances = [instance for instance in group.instances if instance.index < group.desired]
        entries = [Stopping(i.id, i.pid, i.ticks) for i in surplus if i.pid is not None]
        self.state.stopping.extend(entries)
        return entries

    def _record_death(self, instance: Instance, now: float) -> None:
        assert instance.pid is not None
        instance.last_error = self._exit_note(instance.pid)
        log.warning("instance %s (pid %s) %s", instance.id, instance.pid, instance.last_error)
        instance.pid, instance.ticks, instance.health, instance.checking = None, None, "DOWN", False
        instance.crashes = instance.crashes + 1 if now - instance.started_mono < QUICK_DEATH_SECONDS else 0
        instance.next_start = now + _backoff(instance.crashes)

    def _start_instance(self, group: ServerGroup, instance: Instance, now: float) -> None:
        if instance.started_at is not None:
            instance.restarts += 1
        if not port_is_free(instance.port):
            port = self._allocate_or_none()
            if port is None:
                instance.last_error, instance.next_start = "no free port", now + 1.0
                return
            instance.port = port
        argv = [arg.replace("{port}", str(instance.port)) for arg in group.command]
        env = {**base_environment(self.home, "instance"), **group.env}
        env |= {"SPINWEB_INSTANCE": instance.id, "SPINWEB_PORT": str(instance.port)}
        env |= {MARKER_ENV: str(self.home), ROLE_ENV: "instance"}
        try:
            pid = self._spawn(argv, env, self.home / "logs" / f"{instance.id}.log")
        except OSError as error:
            instance.last_error = f"cannot start: {error}"
            instance.crashes += 1
            instance.next_start = now + _backoff(instance.crashes)
            log.error("instance %s cannot start: %s", instance.id, error)
            return
        instance.pid, instance.ticks, instance.health = pid, start_ticks(pid), "STARTING"
        instance.started_at, instance.started_mono, instance.failures = now_iso(), now, 0
        instance.next_check = now + 0.1
        log.info("started instance %s (pid %s, port %s)", instance.id, pid, instance.port)

    def _spawn(self, argv: list[str], env: dict[str, str], log_path: Path) -> int:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as output:
            child = subprocess.Popen(  # noqa: S603 - argv comes from the account's declared artifacts
                argv,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.home,
                start_new_session=True,  # a killed supervisor leaves its processes running, adoptable
            )
        self._children[child.pid] = child
        return child.pid

    def _allocate_or_none(self) -> int | None:
        try:
            return self._allocator.allocate(self.state.ports_in_use())
        except RequestError as error:
            log.error("%s", error.message)
            return None

    def _supervise_proxy(self, lb: LoadBalancer, now: float) -> None:
        if lb.pid is not None and not self._alive(lb.pid, lb.ticks):
            code = self._exit_code(lb.pid)
            lb.last_error = "its port is in use" if code == ADDRESS_IN_USE_EXIT else f"exited with status {code}"
            log.warning("load balancer %s (pid %s): %s", lb.name, lb.pid, lb.last_error)
            lb.pid, lb.ticks = None, None
            lb.crashes = lb.crashes + 1 if now - lb.started_mono < QUICK_DEATH_SECONDS else 0
            lb.next_start = now + _backoff(lb.crashes)
        if lb.pid is None and now >= lb.next_start:
            self._start_proxy(lb, now)

    def _start_proxy(self, lb: LoadBalancer, now: float) -> None:
        in_use = self.state.ports_in_use()
        try:
            if not lb.fixed_port and not port_is_free(lb.port):
                lb.port = self._allocator.allocate(in_use)
            if not port_is_free(lb.admin_port):
                lb.admin_port = self._allocator.allocate(in_use | {lb.port})
        except RequestError as error:
            lb.last_error, lb.next_start = error.message, now + 5.0
            return
        self._write_configs()
        argv = [
            sys.executable,
            "-m",
            "clouds.providers.local.runtime.proxy",
            "--config",
            str(self.config_path(lb.name)),
        ]
        try:
            pid = self._spawn(argv, base_environment(self.home, "proxy"), self.home / "logs" / f"lb-{lb.name}.log")
        except OSError as error:
            lb.last_error, lb.next_start = f"cannot start: {error}", now + 5.0
            return
        lb.pid, lb.ticks, lb.started_mono = pid, start_ticks(pid), now
        log.info("started load balancer %s (pid %s, port %s, admin %s)", lb.name, pid, lb.port, lb.admin_port)

    def _advance_stopping(self) -> None:
        remaining = []
        for item in self.state.stopping:
            if not self._alive(item.pid, item.ticks):
                self._exits.pop(item.pid, None)
                continue
            if item.kill_at is not None and time.time() >= item.kill_at:
                log.warning("%s (pid %s) ignored SIGTERM; killing it", item.label, item.pid)
                signal_group(item.pid, signal.SIGKILL)
            remaining.append(item)
        self.state.stopping = remaining

    def _terminate(self, entries: Iterable[Stopping]) -> None:
        """SIGTERM now, SIGKILL after the grace period (``_advance_stopping`` sends it)."""
        with self.lock:
            for item in entries:
                if self._alive(item.pid, item.ticks):
                    signal_group(item.pid, signal.SIGTERM)
                    item.kill_at = time.time() + STOP_GRACE_SECONDS
                    log.info("stopping %s (pid %s)", item.label, item.pid)
            self._persist()
        self.wake.set()

    # ----------------------------------------------------------------- health

    def _schedule_checks(self, now: float) -> float:
        pause = 0.5
        for group in self.state.server_groups.values():
            for instance in group.instances:
                if instance.pid is None:
                    pause = min(pause, instance.next_start - now)
                    continue
                if instance.checking:
                    continue
                if now >= instance.next_check:
                    instance.checking = True
                    self._checks.submit(self._check, group.name, instance.id, instance.pid, instance.port, group)
                else:
                    pause = min(pause, instance.next_check - now)
        return max(pause, 0.02)

    def _check(self, name: str, instance_id: str, pid: int, port: int, group: ServerGroup) -> None:
        probe = check_health(port, group.health.path, group.health.timeout_seconds)
        with self.lock:
            current = self.state.server_groups.get(name)
            instance = next((i for i in current.instances if i.id == instance_id), None) if current else None
            if current is None or instance is None or instance.pid != pid:
                return
            instance.checking = False
            self._apply_probe(current, instance, probe)

    def _apply_probe(self, group: ServerGroup, instance: Instance, probe: Probe) -> None:
        now = time.monotonic()
        grace = max(5.0, FAILURES_FOR_DOWN * group.health.interval_seconds)
        # A process that does not listen yet is starting, not failing, for a while.
        still_starting = instance.health == "STARTING" and probe.refused and now - instance.started_mono < grace
        if probe.healthy:
            instance.failures, health = 0, "UP"
        else:
            instance.failures += 0 if still_starting else 1
            health = "DOWN" if instance.failures >= FAILURES_FOR_DOWN else instance.health
        fast = min(group.health.interval_seconds, STARTING_CHECK_SECONDS)
        instance.next_check = now + (fast if health == "STARTING" else group.health.interval_seconds)
        if health != instance.health:
            log.info("instance %s is %s", instance.id, health)
            instance.health = health
            self.wake.set()

    # ----------------------------------------------------------------- files

    def _lb_config(self, lb: LoadBalancer) -> dict[str, Any]:
        backends = []
        for name, weight in sorted(lb.backends.items()):
            group = self.state.server_groups.get(name)
            members = group.instances if group is not None else []
            up = [{"id": i.id, "address": f"{LOOPBACK}:{i.port}"} for i in members if i.health == "UP" and i.pid]
            backends.append({"serverGroup": name, "weight": weight, "instances": up})
        return {"name": lb.name, "port": lb.port, "adminPort": lb.admin_port, "backends": backends}

    def _write_configs(self) -> None:
        for lb in self.state.load_balancers.values():
            config = self._lb_config(lb)
            text = json.dumps(config, sort_keys=True)
            if text != self._configs.get(lb.name):
                lb.generation += 1
                write_json_atomic(self.config_path(lb.name), {**config, "generation": lb.generation})
                self._configs[lb.name] = text

    def _persist(self) -> None:
        text = json.dumps(self.state.record(), sort_keys=True)
        if text != self._persisted:
            write_json_atomic(self.state_path, self.state.record())
            self._persisted = text

    # ----------------------------------------------------------------- control API

    def document(self) -> dict[str, Any]:
        with self.lock:
            supervisor = {"pid": os.getpid(), "startedAt": self.started_at, "home": str(self.home)}
            return {**self.state.document(), "supervisor": {**supervisor, "ports": list(self.ports)}}

    def _refuse_while_stopping(self) -> None:
        if self.shutting_down:
            raise RequestError(503, "the supervisor is shutting down")

    def put_server_group(self, name: str, body: Any) -> dict[str, Any]:
        """Create the group or change its desired count and health check; the same body twice is a no-op."""
        check_name("server group", name)
        request = ServerGroupRequest.parse(body)
        with self.lock:
            self._refuse_while_stopping()
            group = self.state.server_groups.get(name)
            if group is None:
                group = ServerGroup(name, request.command, request.env, request.desired, request.health)
                self.state.server_groups[name] = group
                log.info("server group %s created with %s instances", name, request.desired)
            elif (group.command, group.env) != (request.command, request.env):
                raise RequestError(409, f"server group {name} exists with a different command or env")
            group.desired, group.health = request.desired, request.health
            leaving = self._stop_surplus(group)
            self._supervise_group(group, time.monotonic())
            waits = self._routing_to(name)
            self._write_configs()
            self._persist()
        self._retire(leaving, waits)
        with self.lock:
            return self.state.server_groups[name].document() if name in self.state.server_groups else {}

    def delete_server_group(self, name: str) -> None:
        with self.lock:
            self._refuse_while_stopping()
            group = self.state.server_groups.pop(name, None)
            if group is None:
                raise RequestError(404, f"no server group {name}")
            waits = self._routing_to(name)
            for lb in waits:
                del lb.backends[name]
            leaving = [Stopping(i.id, i.pid, i.ticks) for i in group.instances if i.pid is not None]
            self.state.stopping.extend(leaving)
            self._write_configs()
            self._persist()
            log.info("server group %s deleted", name)
        self._retire(leaving, waits)

    def _routing_to(self, group_name: str) -> list[LoadBalancer]:
        return [lb for lb in self.state.load_balancers.values() if group_name in lb.backends]

    def _retire(self, leaving: list[Stopping], waits: list[LoadBalancer]) -> None:
        """Stop processes once the proxies no longer send them new requests."""
        if not leaving:
            return
        with self.lock:
            targets = [(lb.admin_port, lb.generation) for lb in waits if lb.pid is not None]
        self._await_proxies(targets, PROXY_APPLY_SECONDS)
        self._terminate(leaving)

    def _await_proxies(self, targets: list[tuple[int, int]], seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        pending = list(targets)
        while pending:
            pending = [(port, gen) for port, gen in pending if (proxy_generation(port) or 0) < gen]
            if not pending:
                break
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)  # polling a child process that is loading a file; nothing to wait on
        return True

    def put_load_balancer(self, name: str, body: Any) -> dict[str, Any]:
        """Create the proxy or change its backends; answers once the proxy routes by the new config."""
        check_name("load balancer", name)
        request = LoadBalancerRequest.parse(body)
        with self.lock:
            self._refuse_while_stopping()
            lb = self.state.load_balancers.get(name) or self._new_load_balancer(name, request.port)
            if request.port and request.port != lb.port:
                raise RequestError(409, f"load balancer {name} listens on port {lb.port}; its port cannot change")
            self.state.load_balancers[name] = lb
            lb.backends = dict(request.backends)
            self._write_configs()
            if lb.pid is None:
                lb.next_start = 0.0
                self._supervise_proxy(lb, time.monotonic())
            self._persist()
            target = (lb.admin_port, lb.generation)
        if not self._await_proxies([target], PROXY_START_SECONDS):
            raise RequestError(503, f"load balancer {name} is not answering yet ({lb.last_error or 'starting'})")
        with self.lock:
            return lb.document()

    def _new_load_balancer(self, name: str, port: int) -> LoadBalancer:
        in_use = self.state.ports_in_use()
        if port and (port in in_use or not port_is_free(port)):
            raise RequestError(409, f"port {port} is in use")
        chosen = port or self._allocator.allocate(in_use)
        log.info("load balancer %s created on port %s", name, chosen)
        return LoadBalancer(name, chosen, bool(port), self._allocator.allocate(in_use | {chosen}))

    def delete_load_balancer(self, name: str) -> None:
        with self.lock:
            self._refuse_while_stopping()
            lb = self.state.load_balancers.pop(name, None)
            if lb is None:
                raise RequestError(404, f"no load balancer {name}")
            leaving = [Stopping(f"lb {name}", lb.pid, lb.ticks)] if lb.pid is not None else []
            self.state.stopping.extend(leaving)
            self._configs.pop(name, None)
            with contextlib.suppress(OSError):
                self.config_path(name).unlink()
            self._persist()
            log.info("load balancer %s deleted", name)
        self._terminate(leaving)

    def shutdown(self) -> dict[str, Any]:
        """Stop every process of this home, forget the state, and let the supervisor exit."""
        with self.lock:
            self._refuse_while_stopping()
            self.shutting_down = True
            leaving = self._processes() + self.state.stopping
            self.state = State(stopping=leaving)
            for name in list(self._configs):
                with contextlib.suppress(OSError):
                    self.config_path(name).unlink()
            self._configs.clear()
            self._persist()
        log.info("shutting down: stopping %s processes", len(leaving))
        self._terminate(leaving)
        self._wait_gone(leaving)
        with self.lock:
            self.state = State()
            self._persist()
        self.stopped.set()
        self.wake.set()
        return {"stopped": len(leaving)}

    def _wait_gone(self, entries: list[Stopping]) -> None:
        deadline = time.monotonic() + STOP_GRACE_SECONDS + 3
        while time.monotonic() < deadline:
            with self.lock:
                self._advance_stopping()
                if not any(self._alive(item.pid, item.ticks) for item in entries):
                    return
            time.sleep(0.05)  # reaping children that were signalled; they have nothing to notify us with
        log.error("some processes outlived the shutdown: %s", [item.pid for item in entries])

    def close(self) -> None:
        self._checks.shutdown(wait=False, cancel_futures=True)


def _backoff(crashes: int) -> float:
    """Seconds before starting again after ``crashes`` quick deaths in a row."""
    return 0.0 if crashes == 0 else min(0.5 * 2 ** (crashes - 1), 30.0)
