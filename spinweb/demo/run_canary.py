"""``manage.py demo --run-once --canary``: the Canary pipeline with a good and then a bad release, headless.

After getting v1 (only) to serve, as ``--run-once`` does, and under steady traffic through
``hello-web``:

1. the Canary pipeline with v2: the canary (v2 against a v1 baseline) passes and Blue/Green
   deploys v2, so all traffic ends on v2 and no request fails;
2. the Canary pipeline with the bad v3: the canary (v3 against a v2 baseline) fails, the deploy
   never starts, production keeps answering v2 only.

Both times the baseline and canary server groups must be gone at the end. The engine runs in this
process and the clean-up is ``--run-once``'s (``DemoRun``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from canary.models import CanaryJudgment
from clouds.providers.base import LoadBalancerState, provider_for
from clouds.providers.local.traffic import TrafficGenerator, TrafficSnapshot, version_shares
from pipelines.models import Execution, StageExecution
from pipelines.statuses import Status
from spinweb.demo import definitions as demo
from spinweb.demo.run_once import DemoRun, Options, Say, stage_failures

CANARY_TYPE = "kayentaCanary"


@dataclass(frozen=True)
class Attempt:
    """One run of the Canary pipeline and what the demo saw of it."""

    version: str
    good: bool
    execution_id: str
    status: str
    failure: str
    canary_status: str
    canary_message: str
    canary: dict[str, Any]
    deploy_status: str
    deploy_started: bool
    production: list[str]
    leftovers: list[str]
    seconds_to_all_new: float | None
    traffic: TrafficSnapshot

    @property
    def expected(self) -> bool:
        """A good release passes and takes all traffic with no failed request; a bad one never deploys."""
        common = not self.leftovers and self.traffic.sent > 0
        if self.good:
            return (
                common
                and self.status == Status.SUCCEEDED
                and self.canary_status == Status.SUCCEEDED
                and self.traffic.failed == 0
                and self.production == [self.version]
                and self.seconds_to_all_new is not None
            )
        return common and self.canary_status == Status.TERMINAL and not self.deploy_started

    def lines(self, production_version: str) -> list[str]:
        kind = "a good release" if self.good else "a bad release: errors and latency injected"
        run_id = self.canary.get("canaryRunId")
        rows = [
            ("pipeline", f"{demo.CANARY}: {self.status} (execution {self.execution_id})"),
            ("canary", self._canary_line()),
            ("canary verdict", self.canary_message or self.canary.get("canaryScoreMessage") or self.failure or "none"),
            ("canary report", f"{self.canary.get('reportUrl')} in Spinweb" if run_id else "none (no analysis ran)"),
            ("canary report (CLI)", f"manage.py canary report {run_id}" if run_id else "none"),
            ("canary warnings", _warnings(self.canary.get("warnings") or [])),
            ("deploy", self._deploy_line()),
        ]
        if self.good:
            reached = (
                f"{self.seconds_to_all_new:.1f} s after the pipeline started" if self.seconds_to_all_new else "never"
            )
            rows.append((f"time to 100 % on {self.version}", reached))
        rows += [
            ("production serves", ", ".join(self.production) or "nothing"),
            ("answers at the end", self._final_line(production_version)),
            ("requests sent", str(self.traffic.sent)),
            ("requests failed", self._failed_line()),
            ("answers by version", version_shares(self.traffic.by_version)),
            ("baseline and canary", "removed" if not self.leftovers else "STILL THERE: " + ", ".join(self.leftovers)),
        ]
        return [f"  Canary with {self.version} ({kind})", *(f"    {label + ':':<24}{value}" for label, value in rows)]

    def _canary_line(self) -> str:
        scores = ", ".join(f"{score:.1f}" for score in self.canary.get("canaryScores") or []) or "none"
        result = self.canary.get("overallResult") or "no result"
        return f"{self.canary_status}, interval scores {scores}: {result}"

    def _deploy_line(self) -> str:
        if self.deploy_started:
            return self.deploy_status
        return f"never started ({self.version} never reached production)"

    def _final_line(self, production_version: str) -> str:
        streak = self.traffic.streak
        if streak is None:
            return "no answer"
        expected = self.version if self.good else production_version
        return f"all from {streak.version}" + ("" if streak.version == expected else f" (expected {expected})")

    def _failed_line(self) -> str:
        traffic = self.traffic
        reasons = ", ".join(f"{reason}: {count}" for reason, count in sorted(traffic.failures.items()))
        text = str(traffic.failed) + (f" ({reasons})" if reasons else "")
        if traffic.failed and not self.good:
            text += f", the bad canary's errors on its ~{demo.CANARY_TRAFFIC_PERCENT} % share"
        return text


@dataclass(frozen=True)
class CanarySummary:
    good: Attempt
    bad: Attempt | None
    production_version: str
    notes: list[str] = field(default_factory=list)

    @property
    def succeeded(self) -> bool:
        return self.good.expected and self.bad is not None and self.bad.expected

    def lines(self) -> list[str]:
        rows = ["Summary", *self.good.lines(self.production_version)]
        if self.bad is None:
            rows.append(f"  Canary with {demo.BAD_VERSION}: not run (the good release did not get through)")
        else:
            rows += self.bad.lines(self.production_version)
        return rows


class CanaryDemoRun(DemoRun):
    """``--run-once --canary``; ``run_canary()`` always cleans up what it started."""

    def __init__(self, options: Options, say: Say) -> None:
        super().__init__(options, say)
        self.judged: set[str] = set()

    def run_canary(self) -> CanarySummary:
        return self.guarded(self._both)

    def _both(self) -> CanarySummary:
        balancer = self._prepare()
        good_version = self.options.to_version
        good = self._attempt(balancer, good_version, good=True)
        bad = self._attempt(balancer, demo.BAD_VERSION, good=False) if good.expected else None
        return CanarySummary(good, bad, good_version)

    def _attempt(self, balancer: LoadBalancerState, version: str, *, good: bool) -> Attempt:
        url = f"http://{balancer.address}/"
        self.say(f"Sending {self.options.rate:g} requests/s to {url}.")
        traffic = self.traffic = TrafficGenerator(url, self.options.rate).start()
        started = time.monotonic()
        execution = self._start(version, demo.CANARY)
        self._drive(execution, started, with_traffic=True)
        self._confirm(version if execution.status == Status.SUCCEEDED else self.options.to_version)
        snapshot = traffic.stop()
        self.traffic = None
        streak = snapshot.streak
        reached = streak.since - started if good and streak is not None and streak.version == version else None
        return self._outcome(execution, version, good=good, reached=reached, traffic=snapshot)

    def _outcome(
        self, execution: Execution, version: str, *, good: bool, reached: float | None, traffic: TrafficSnapshot
    ) -> Attempt:
        stages = {stage.type: stage for stage in execution.stages.filter(parent__isnull=True)}
        canary, deploy = stages.get(CANARY_TYPE), stages.get("deploy")
        assert self.account is not None
        provider = provider_for(self.account)
        production = sorted(
            {
                group.artifact.version
                for group in provider.server_groups(demo.CLUSTER, demo.REGION)
                if group.effective_weight
            }
        )
        leftovers = [
            group.name
            for cluster in (demo.BASELINE_CLUSTER, demo.CANARY_CLUSTER)
            for group in provider.server_groups(cluster, demo.REGION)
        ]
        return Attempt(
            version=version,
            good=good,
            execution_id=str(execution.pk),
            status=execution.status,
            failure=stage_failures(execution),
            canary_status=canary.status if canary else "missing",
            canary_message=canary.failure_message if canary else "",
            canary=_canary_outputs(canary),
            deploy_status=deploy.status if deploy else "missing",
            deploy_started=deploy is not None and deploy.started_at is not None,
            production=production,
            leftovers=leftovers,
            seconds_to_all_new=reached,
            traffic=traffic,
        )

    def _progress(self, execution: Execution, elapsed: str) -> None:
        """Each canary interval's score as soon as it is judged."""
        judgments = CanaryJudgment.objects.filter(run__execution=execution).exclude(pk__in=self.judged)
        for judgment in judgments.order_by("index"):
            self.judged.add(str(judgment.pk))
            score = "none" if judgment.score is None else f"{judgment.score:.1f}"
            self.say(f"{elapsed}  canary interval {judgment.index}: score {score} ({judgment.classification})")


def _canary_outputs(stage: StageExecution | None) -> dict[str, Any]:
    if stage is None:
        return {}
    return {**(stage.context or {}), **(stage.outputs or {})}


def _warnings(warnings: list[str]) -> str:
    if not warnings:
        return "none"
    # A demo canary lasts seconds: fewer than Kayenta's 50 points per metric is expected here.
    return f"{len(warnings)} (expected of a {demo.CANARY_LIFETIME_SECONDS} s canary), e.g. {warnings[0]}"


def run_canary(options: Options, say: Say) -> CanarySummary:
    """Run the canary demo headless (see the module docstring); always cleans up."""
    return CanaryDemoRun(options, say).run_canary()
