"""``manage.py demo --run-once``: a blue/green deploy of hello from v1 to v2 under steady traffic, headless.

Steps: seed the rows; bring up the load balancer and make sure v1 (only) is serving, deploying it
when the cluster is empty or serves another version; send ``rate`` requests a second through the
load balancer; run the Blue/Green pipeline to v2; report; stop what was started.

The engine runs in this process, in the main thread (``run_due_tasks`` in a loop, tasks are not
queued to workers), so nothing but a database and the local supervisor is needed. A django-q2
cluster running on the same database at the same time is harmless: task leases keep each task to
one runner.

Clean-up, also on failure, Ctrl-C or SIGTERM: the traffic stops; a run still going is canceled;
if this command started the local supervisor, the supervisor is shut down with everything it ran
(and the rows say so); otherwise, if it created the load balancer, the server groups and the load
balancer it created are removed; otherwise (someone's demo was already running) the cluster is
left as the pipeline left it.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TypeVar

from django.conf import settings

from clouds.models import Account
from clouds.providers.base import LoadBalancerState, Provider, ServerGroupState, provider_for
from clouds.providers.local.runtime.client import SupervisorClient, SupervisorError
from clouds.providers.local.runtime.common import marked_processes
from clouds.providers.local.traffic import TrafficGenerator, TrafficSnapshot, version_shares
from clouds.providers.sync import mirror
from pipelines import actions as pipeline_actions
from pipelines.engine.runner import run_due_tasks
from pipelines.models import Execution, Pipeline
from pipelines.statuses import ACTIVE, COMPLETED, Status
from spinweb.demo import definitions as demo
from spinweb.demo.seed import SOURCE, SeedReport, ensure_initial_group, ensure_load_balancer, seed_rows

Say = Callable[[str], None]
T = TypeVar("T")

POLL_SECONDS = 0.05
CONFIRM_SECONDS = 1.0
"""After the pipeline, every answer for this long must come from the new version to call it 100 %."""
CONFIRM_DEADLINE = 10.0
SERVING_STREAK = 10
SERVING_DEADLINE = 60.0
SHUTDOWN_DEADLINE = 20.0


class DemoFailed(Exception):
    """The demo could not get where it needed to be; the message says where it stopped."""


class Interrupted(Exception):
    """SIGTERM arrived (SIGINT raises ``KeyboardInterrupt``)."""


@dataclass(frozen=True)
class Options:
    from_version: str = "v1"
    to_version: str = "v2"
    instances: int = demo.DEFAULT_INSTANCES
    rate: float = 50.0
    timeout: float = 180.0


@dataclass(frozen=True)
class Summary:
    pipeline: str
    execution_id: str
    status: str
    failure: str
    to_version: str
    seconds_to_all_new: float | None
    traffic: TrafficSnapshot

    @property
    def succeeded(self) -> bool:
        """The pipeline succeeded, every request was answered well, and v2 ended with all the traffic."""
        return (
            self.status == Status.SUCCEEDED
            and self.traffic.failed == 0
            and self.traffic.sent > 0
            and self.seconds_to_all_new is not None
        )

    def lines(self) -> list[str]:
        traffic = self.traffic
        reasons = ", ".join(f"{reason}: {count}" for reason, count in sorted(traffic.failures.items()))
        reached = (
            f"{self.seconds_to_all_new:.1f} s after the pipeline started"
            if self.seconds_to_all_new is not None
            else "never (the old version still answered at the end)"
        )
        latency = (
            f"p50 {traffic.p50_ms:.0f} ms, p95 {traffic.p95_ms:.0f} ms"
            if traffic.p50_ms is not None and traffic.p95_ms is not None
            else "no answers"
        )
        status = f"{self.status}" + (f" ({self.failure})" if self.failure else "")
        rows = [
            ("pipeline", f"{self.pipeline}: {status} (execution {self.execution_id})"),
            (f"time to 100 % on {self.to_version}", reached),
            ("requests sent", str(traffic.sent)),
            ("requests failed", str(traffic.failed) + (f" ({reasons})" if reasons else "")),
            ("answers by version", version_shares(traffic.by_version)),
            ("latency", latency),
        ]
        return ["Summary", *(f"  {label + ':':<24}{value}" for label, value in rows)]


class DemoRun:
    """One ``--run-once``; ``run()`` always cleans up what it started before returning or raising."""

    def __init__(self, options: Options, say: Say) -> None:
        self.options = options
        self.say = say
        self.home = Path(settings.SPINWEB_LOCAL_HOME)
        low, high = settings.SPINWEB_LOCAL_PORTS
        self.client = SupervisorClient(self.home, (int(low), int(high)))
        self.started_supervisor = False
        self.created_balancer = False
        self.groups_before: set[str] = set()
        self.execution: Execution | None = None
        self.traffic: TrafficGenerator | None = None
        self.account: Account | None = None

    def run(self) -> Summary:
        return self.guarded(lambda: self._deploy(self._prepare()))

    def guarded(self, body: Callable[[], T]) -> T:
        """``body()``, stopped by SIGTERM too, and always followed by the clean-up."""
        try:
            with _stop_on_sigterm():
                return body()
        finally:
            with _signals_ignored():
                self._teardown()

    # Getting v1 to serve ---------------------------------------------------------------------

    def _prepare(self) -> LoadBalancerState:
        # Tasks are run right here; queueing them would leave work for workers that may not exist.
        settings.SPINWEB_ENGINE_DISPATCH = "none"
        report = SeedReport(echo=self.say)
        self.account = account = seed_rows(report)
        self.started_supervisor = not self.client.is_running()
        if self.started_supervisor:
            self.say(f"Starting the local supervisor in {self.home} (ports {self._ports()}).")
        balancer, self.created_balancer = ensure_load_balancer(account, report)
        provider = provider_for(account)
        self.groups_before = {group.name for group in _demo_groups(provider)}
        ensure_initial_group(account, self.options.instances, report)
        self._serve_only(provider, self.options.from_version)
        self._wait_serving(balancer, self.options.from_version)
        return balancer

    def _ports(self) -> str:
        low, high = self.client.ports
        return f"{low}-{high}"

    def _serve_only(self, provider: Provider, version: str) -> None:
        """Deploy ``version`` with the Blue/Green pipeline unless it alone takes the traffic already."""
        groups = provider.server_groups(demo.CLUSTER, demo.REGION)
        serving = {group.artifact.version for group in groups if group.effective_weight > 0}
        if serving == {version}:
            return
        now = ", ".join(sorted(serving)) or "nothing"
        self.say(f"The cluster serves {now}; deploying {version} first with {demo.BLUE_GREEN}.")
        execution = self._start(version)
        self._drive(execution, time.monotonic(), with_traffic=False)
        if execution.status != Status.SUCCEEDED:
            raise DemoFailed(f"Deploying {version} first ended {execution.status}.")

    def _wait_serving(self, balancer: LoadBalancerState, version: str) -> None:
        self.say(f"Waiting until {balancer.name} answers {version} only.")
        deadline = time.monotonic() + SERVING_DEADLINE
        streak = 0
        while streak < SERVING_STREAK:
            streak = streak + 1 if _answering_version(balancer.address) == version else 0
            if time.monotonic() >= deadline:
                raise DemoFailed(f"{balancer.name} did not answer {version} within {SERVING_DEADLINE:.0f} s.")
            if not streak:
                time.sleep(POLL_SECONDS * 4)  # instances are starting; their health checks run every second
        self.say(f"{version} is serving.")

    # The measured deploy ---------------------------------------------------------------------

    def _deploy(self, balancer: LoadBalancerState) -> Summary:
        options = self.options
        url = f"http://{balancer.address}/"
        self.say(f"Sending {options.rate:g} requests/s to {url}.")
        self.traffic = TrafficGenerator(url, options.rate).start()
        started = time.monotonic()
        execution = self._start(options.to_version)
        self._drive(execution, started, with_traffic=True)
        if execution.status == Status.SUCCEEDED:
            self._confirm(options.to_version)
        snapshot = self.traffic.stop()
        streak = snapshot.streak
        reached = streak.since - started if streak is not None and streak.version == options.to_version else None
        return Summary(
            pipeline=demo.BLUE_GREEN,
            execution_id=str(execution.pk),
            status=execution.status,
            failure=stage_failures(execution),
            to_version=options.to_version,
            seconds_to_all_new=reached,
            traffic=snapshot,
        )

    def _start(self, version: str, pipeline_name: str = demo.BLUE_GREEN) -> Execution:
        pipeline = Pipeline.objects.get(application__name=demo.APPLICATION, name=pipeline_name)
        parameters = {"version": version, "instances": str(self.options.instances)}
        self.execution = pipeline_actions.start_execution(None, pipeline, parameters=parameters, source=SOURCE)
        self.say(f"Started {pipeline.name} with version {version} (execution {self.execution.pk}).")
        return self.execution

    def _drive(self, execution: Execution, started: float, *, with_traffic: bool) -> None:
        """Run the engine here until the execution ends, printing each stage's changes and the traffic."""
        deadline = time.monotonic() + self.options.timeout
        progress = _Progress(self.say, started)
        while True:
            run_due_tasks()
            execution.refresh_from_db(fields=["status"])
            progress.stages(execution)
            self._progress(execution, progress.elapsed())
            if with_traffic and self.traffic is not None:
                progress.traffic(self.traffic.stats.snapshot())
            if execution.status in COMPLETED:
                self.say(f"{progress.elapsed()}  {execution.name}: {execution.status}")
                return
            if time.monotonic() >= deadline:
                raise DemoFailed(f"{execution.name} did not finish within {self.options.timeout:.0f} s.")
            time.sleep(POLL_SECONDS)  # the engine's waits wake at wall-clock times; poll for them

    def _progress(self, execution: Execution, elapsed: str) -> None:
        """Anything more to print while ``execution`` runs (nothing here)."""

    def _confirm(self, version: str) -> None:
        """Wait (a little) until every answer has come from ``version`` for ``CONFIRM_SECONDS``."""
        assert self.traffic is not None
        deadline = time.monotonic() + CONFIRM_DEADLINE
        while time.monotonic() < deadline:
            streak = self.traffic.stats.snapshot().streak
            if streak is not None and streak.version == version and time.monotonic() - streak.since >= CONFIRM_SECONDS:
                return
            time.sleep(POLL_SECONDS)  # answers keep arriving at the traffic rate

    # Cleaning up -----------------------------------------------------------------------------

    def _teardown(self) -> None:
        """Stop whatever this run started; each step runs even if an earlier one failed."""
        for step in (self._stop_traffic, self._cancel_run, self._stop_cloud):
            try:
                step()
            except Exception as error:  # report it and carry on with the next step
                self.say(f"Clean-up step {step.__name__} failed: {error}")

    def _stop_traffic(self) -> None:
        if self.traffic is not None:
            self.traffic.stop()

    def _cancel_run(self) -> None:
        if self.execution is None:
            return
        self.execution.refresh_from_db(fields=["status"])
        if self.execution.status in ACTIVE:
            pipeline_actions.cancel(None, self.execution, reason="manage.py demo --run-once stopped", source=SOURCE)
            self.say(f"Canceled {self.execution.name} ({self.execution.pk}).")

    def _stop_cloud(self) -> None:
        if self.started_supervisor:
            self._shutdown_supervisor()
        elif self.created_balancer and self.account is not None:
            self._remove_created(self.account)
        elif self.account is not None:
            self.say("The local supervisor was already running: the hello cluster stays as the pipeline left it.")

    def _shutdown_supervisor(self) -> None:
        self.say(f"Shutting down the local supervisor it started (every process of {self.home}).")
        shutdown_local_cloud(self.client)

    def _remove_created(self, account: Account) -> None:
        provider = provider_for(account)
        # A canceled canary removes its baseline and canary itself; any still there go too.
        created = [group for group in _demo_groups(provider) if group.name not in self.groups_before]
        for group in created:
            provider.destroy(group.name, group.region, idempotency_key=f"demo:destroy:{uuid.uuid4()}")
        provider.delete_load_balancer(demo.LOAD_BALANCER, demo.REGION, idempotency_key=f"demo:lb-delete:{uuid.uuid4()}")
        names = ", ".join(group.name for group in created) or "no server group"
        self.say(f"Removed what it created: {names} and the load balancer {demo.LOAD_BALANCER}.")


class _Progress:
    """Prints a line when a stage changes status, and the traffic once a second."""

    def __init__(self, say: Say, started: float) -> None:
        self.say = say
        self.started = started
        self.seen: dict[str, str] = {}
        self.last_traffic = started
        self.last_versions: dict[str, int] = {}

    def elapsed(self) -> str:
        return f"  {time.monotonic() - self.started:6.1f}s"

    def stages(self, execution: Execution) -> None:
        rows = execution.stages.order_by("started_at", "position").values_list(
            "pk", "name", "status", "failure_message"
        )
        for pk, name, status, failure in rows:
            key = str(pk)
            if self.seen.get(key, Status.NOT_STARTED) != status:
                self.seen[key] = status
                self.say(f"{self.elapsed()}  {name}: {status}" + (f" ({failure})" if failure else ""))

    def traffic(self, snapshot: TrafficSnapshot) -> None:
        if time.monotonic() - self.last_traffic < 1.0:
            return
        self.last_traffic = time.monotonic()
        recent = {v: n - self.last_versions.get(v, 0) for v, n in snapshot.by_version.items()}
        self.last_versions = dict(snapshot.by_version)
        self.say(
            f"{self.elapsed()}  traffic: {snapshot.sent} sent, {snapshot.failed} failed; "
            f"last second {version_shares({v: n for v, n in recent.items() if n})}"
        )


def shutdown_local_cloud(client: SupervisorClient) -> None:
    """Stop the supervisor and everything it runs, wait until they are gone, and say so in the rows."""
    with contextlib.suppress(SupervisorError):
        client.shutdown()
    deadline = time.monotonic() + SHUTDOWN_DEADLINE
    while left := marked_processes(client.home):
        if time.monotonic() >= deadline:
            raise DemoFailed(f"Processes of {client.home} still run: {sorted(left)}.")
        time.sleep(POLL_SECONDS)  # the supervisor exits right after answering the shutdown
    # Nothing runs any more; the supervisor served every local account, so all their rows say so.
    for account in Account.objects.filter(provider="local"):
        mirror(account, [], [])


def _demo_groups(provider: Provider) -> list[ServerGroupState]:
    """The live server groups of production and of the canary's baseline and canary clusters."""
    clusters = (demo.CLUSTER, demo.BASELINE_CLUSTER, demo.CANARY_CLUSTER)
    return [group for cluster in clusters for group in provider.server_groups(cluster, demo.REGION)]


def _answering_version(address: str) -> str | None:
    """The version in one answer through the load balancer, or None if it did not answer 200."""
    host, _, port = address.rpartition(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        connection.request("GET", "/")
        response = connection.getresponse()
        body = response.read()
    except (OSError, http.client.HTTPException):
        return None
    finally:
        connection.close()
    if response.status != 200:
        return None
    with contextlib.suppress(ValueError, AttributeError):
        return str(json.loads(body).get("version"))
    return None


def stage_failures(execution: Execution) -> str:
    messages = execution.stages.exclude(failure_message="").values_list("failure_message", flat=True)
    return "; ".join(messages)


def _raise_interrupted(signum: int, frame: FrameType | None) -> None:
    raise Interrupted


@contextlib.contextmanager
def _stop_on_sigterm() -> Iterator[None]:
    previous = signal.signal(signal.SIGTERM, _raise_interrupted)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _signals_ignored() -> Iterator[None]:
    """Clean-up is bounded by deadlines; a second Ctrl-C must not cut it short and leave processes."""
    previous = {signum: signal.signal(signum, signal.SIG_IGN) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def run_once(options: Options, say: Say) -> Summary:
    """Run the demo headless (see the module docstring); always cleans up."""
    return DemoRun(options, say).run()
