"""Helpers for the deploy-strategy tests: traffic through the load balancer, and driving the engine.

- ``Traffic(address)``: client threads sending requests through the load balancer one after
  another until stopped, counting answers by version (anything else is a failure, by status or
  error). ``split(n)`` counts the versions of the next ``n`` answers; ``wait_for_only(version)``
  waits until the latest answers all come from ``version``.
- ``traffic`` fixture: starts ``Traffic`` on an address and always stops its threads.
- ``drive(execution, until)``: runs due tasks, with the callbacks that run after a commit (wake-ups,
  the end-of-run receivers), until ``until()`` holds or the run ends; fails after a deadline.
"""

from __future__ import annotations

import json
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from clouds.models import Account
from clouds.providers.base import provider_for
from pipelines.models import Execution, StageExecution
from pipelines.statuses import Status
from tests.clouds.local.conftest import get, wait_until
from tests.clouds.local.stage_helpers import finish

VERSIONS = ("v1", "v2", "v3")


def capacity(desired: int) -> dict[str, int]:
    return {"min": desired, "max": desired, "desired": desired}


def balancer_address(account: Account) -> str:
    balancer = provider_for(account).load_balancer("shop-web", "local")
    assert balancer is not None
    return balancer.address


class Traffic:
    def __init__(self, address: str, threads: int = 2) -> None:
        self.address = address
        self.answers: Counter[str] = Counter()
        self.recent: deque[str] = deque(maxlen=50)
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.threads = [threading.Thread(target=self._loop, daemon=True) for _ in range(threads)]

    def start(self) -> Traffic:
        for thread in self.threads:
            thread.start()
        return self

    def stop(self) -> None:
        self.stopped.set()
        for thread in self.threads:
            thread.join(timeout=10)

    def _loop(self) -> None:
        while not self.stopped.is_set():
            try:
                status, body = get(f"http://{self.address}/", timeout=5)
                answer = json.loads(body)["version"] if status == 200 else f"HTTP {status}"
            except OSError as exc:
                answer = f"error {type(exc).__name__}"
            with self.lock:
                self.answers[answer] += 1
                self.recent.append(answer)

    def counts(self) -> Counter[str]:
        with self.lock:
            return Counter(self.answers)

    def failures(self) -> dict[str, int]:
        return {answer: n for answer, n in self.counts().items() if answer not in VERSIONS}

    def split(self, requests: int = 300) -> dict[str, float]:
        """The share (in %) of each version among the next ``requests`` answers."""
        before = self.counts()

        def grown() -> Counter[str] | None:
            now = self.counts()
            return now if now.total() - before.total() >= requests else None

        after = wait_until(grown, 30.0, f"{requests} answers through the load balancer")
        assert after is not None
        delta = after - before
        return {answer: 100.0 * n / delta.total() for answer, n in delta.items()}

    def wait_for_only(self, version: str, timeout: float = 15.0) -> None:
        def only() -> bool:
            with self.lock:
                return len(self.recent) == self.recent.maxlen and set(self.recent) == {version}

        wait_until(only, timeout, f"only {version} to answer")


@pytest.fixture
def traffic() -> Iterator[Callable[[str], Traffic]]:
    started: list[Traffic] = []

    def start(address: str) -> Traffic:
        running = Traffic(address).start()
        started.append(running)
        wait_until(lambda: running.counts().total() >= 10, 10.0, "the first answers")
        return running

    yield start
    for running in started:
        running.stop()


def drive(
    execution: Execution, capture: Any, until: Callable[[], bool] = lambda: False, timeout: float = 60.0
) -> Execution:
    """Run the engine until ``until()`` or the end of the run, commit callbacks included."""
    return finish(execution, timeout, until=until, capture=capture)


def running(execution: Execution, name: str) -> Callable[[], bool]:
    """A condition: the execution's stage ``name`` is running."""
    return lambda: execution.stages.filter(name=name, status=Status.RUNNING).exists()


def strategy_steps(execution: Execution) -> list[tuple[str, str]]:
    """``(name, status)`` of the steps the strategy added under the deploy's createServerGroup stage."""
    created = execution.stages.get(type="createServerGroup")
    rows = StageExecution.objects.filter(parent=created).order_by("position")
    return list(rows.values_list("name", "status"))
