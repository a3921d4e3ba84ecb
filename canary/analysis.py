"""The ``kayentaCanary`` stage's analysis: find the config, then judge each interval when it is due.

``resolveCanaryConfig`` checks the evaluated fields and finds the canary config (by id, or by name
in the pipeline's application); a config of another application is usable only when it lists the
pipeline's application in its ``applications``.

``runCanaryAnalysis`` creates the ``CanaryRun`` on its first run (``canaryRunId`` in the context),
then on every wake judges each interval whose window ended ``SPINWEB_CANARY_METRICS_DELAY_SECONDS``
ago and asks the engine to wake it when the next one is due: no worker ever sleeps through an
interval. An interval at or below the marginal threshold, one that failed on a critical metric, or
one that could not be judged ends the stage TERMINAL at once; after the last interval its score
must reach the pass threshold. Scores, the overall result and the report link are the stage's
outputs, for downstream stages and expressions (``${#stage('Canary')['outputs']['overallScore']}``).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.urls import reverse

from canary.deploy_tasks import DEPLOYED, CanaryTask, deployed
from canary.judge.results import ERROR
from canary.models import CanaryConfig, CanaryJudgment, CanaryRun
from canary.runs import finish_run, judge_interval, make_plan, start_run, windows
from canary.stage_fields import CanarySettings, FieldsInvalid, deployments_of, settings_of
from clouds.stages.common import Refused
from pipelines.engine import clock
from pipelines.engine.types import TaskContext, TaskResult, register_task
from pipelines.models import Execution, StageExecution
from pipelines.statuses import Status

RESOLVED = "canaryConfigResolved"
FAIL = "Fail"


def canary_settings(ctx: TaskContext) -> CanarySettings:
    try:
        return settings_of(ctx.stage.context)
    except FieldsInvalid as exc:
        raise Refused(str(exc)) from None


def find_config(execution: Execution, reference: str) -> CanaryConfig:
    """The config named by id or by name; Refused naming it when there is none this run may use."""
    application = execution.application.name
    rows = CanaryConfig.objects.select_related("application")
    try:
        found = rows.filter(pk=uuid.UUID(reference)).first()
    except ValueError:
        found = rows.filter(application__name=application, name=reference).first()
        if found is None:
            found = next((row for row in rows.filter(name=reference) if _shared_with(row, application)), None)
    if found is None:
        raise Refused(f"canaryConfigId: there is no canary config {reference!r} in application {application}.")
    if found.application.name != application and not _shared_with(found, application):
        raise Refused(
            f"canaryConfigId: canary config {found.name} belongs to application {found.application.name} "
            f"and does not list {application} in its applications."
        )
    return found


def _shared_with(config: CanaryConfig, application: str) -> bool:
    listed = config.document.get("applications")
    return isinstance(listed, list) and application in listed


@register_task
class ResolveCanaryConfigTask(CanaryTask):
    name = "resolveCanaryConfig"
    timeout = timedelta(minutes=5)

    def execute(self, ctx: TaskContext) -> TaskResult:
        chosen = canary_settings(ctx)
        try:
            deployments_of(ctx.stage.context)
        except FieldsInvalid as exc:
            raise Refused(str(exc)) from None
        config = find_config(ctx.execution, chosen.config_ref)
        resolved = {"id": str(config.pk), "name": config.name, "version": config.version}
        return TaskResult(Status.SUCCEEDED, context={RESOLVED: resolved})


@register_task
class RunCanaryAnalysisTask(CanaryTask):
    name = "runCanaryAnalysis"
    timeout = timedelta(days=30)
    # Fetching every metric of an interval (with the sources' retries) can outlast the default lease.
    lease = timedelta(minutes=10)

    def execute(self, ctx: TaskContext) -> TaskResult:
        run = CanaryRun.objects.filter(stage=ctx.stage).first() or self.start(ctx)
        judgments = list(run.judgments.order_by("index"))
        judged = {judgment.index for judgment in judgments}
        delay = timedelta(seconds=settings.SPINWEB_CANARY_METRICS_DELAY_SECONDS)
        planned = windows(run.plan)
        for index, window in enumerate(planned, start=1):
            if index not in judged:
                due = max(window.control_end, window.experiment_end) + delay
                if clock.now() < due:
                    return _running(ctx, run, judgments, due)
                judgments.append(judge_interval(run, index, window))
            failure = interval_failure(judgments[index - 1], len(planned), run.thresholds)
            if failure:
                return _ended(ctx, run, judgments, CanaryRun.State.FAILED, failure)
        last = judgments[-1]
        if last.score is not None and last.score >= float(run.thresholds["pass"]):
            return _ended(ctx, run, judgments, CanaryRun.State.SUCCEEDED, "")
        message = f"Canary final score {_score(last.score)} is below pass {float(run.thresholds['pass']):g}"
        return _ended(
            ctx, run, judgments, CanaryRun.State.FAILED, f"{message}: {last.reason}" if last.reason else message
        )

    def start(self, ctx: TaskContext) -> CanaryRun:
        chosen = canary_settings(ctx)
        resolved_id = str((ctx.stage.context.get(RESOLVED) or {}).get("id") or "")
        config = CanaryConfig.objects.filter(pk=resolved_id).first() if resolved_id else None
        config = config or find_config(ctx.execution, chosen.config_ref)
        plan = make_plan(
            lifetime_minutes=chosen.lifetime_minutes,
            interval_minutes=chosen.interval_minutes,
            begin_after_minutes=chosen.begin_after_minutes,
            lookback_minutes=chosen.lookback_minutes,
            baseline_offset_minutes=chosen.baseline_offset_minutes,
            started=clock.now(),
        )
        return start_run(
            application=ctx.execution.application,
            execution=ctx.execution,
            stage=ctx.stage,
            config=config,
            thresholds=chosen.thresholds,
            scopes=resolved_scopes(chosen.scopes, deployed(ctx.stage.context)),
            plan=plan,
            deployments=run_deployments(ctx.stage.context),
        )


def resolved_scopes(scopes: list[dict[str, Any]], groups: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The stage's scopes with missing control/experiment scopes and locations taken from the deployed groups."""
    resolved = []
    for scope in scopes:
        filled = dict(scope)
        for role, facts in groups.items():
            if not filled.get(f"{role}Scope"):
                filled[f"{role}Scope"] = facts["serverGroup"]
            if not filled.get(f"{role}Location"):
                filled[f"{role}Location"] = facts["region"]
        resolved.append(filled)
    return resolved


def run_deployments(context: Mapping[str, Any]) -> dict[str, Any]:
    """``CanaryRun.deployments``: the two groups, their traffic weight, whether they are gone."""
    groups = deployed(context)
    if not groups:
        return {}
    keys = ("account", "region", "serverGroup", "artifact")
    facts = {role: {name: group.get(name) for name in keys} for role, group in groups.items()}
    weight = (context.get(DEPLOYED) or {}).get("trafficWeight")
    return {**facts, "trafficWeight": weight, "cleanedUp": False}


def interval_failure(judgment: CanaryJudgment, total: int, thresholds: Mapping[str, Any]) -> str:
    """Why interval ``judgment.index`` ends the canary at once ("" when the analysis goes on)."""
    where = f"Canary interval {judgment.index} of {total}"
    marginal = float(thresholds["marginal"])
    if judgment.classification == ERROR or judgment.score is None:
        return f"{where} could not be judged: {judgment.error or judgment.reason}"
    if judgment.score <= marginal:
        return f"{where} scored {_score(judgment.score)}, at or below marginal {marginal:g}: {judgment.reason}"
    if judgment.classification == FAIL:
        return f"{where} failed: {judgment.reason}"
    return ""


def _score(score: float | None) -> str:
    return "none" if score is None else f"{score:.1f}"


def outputs(ctx: TaskContext, run: CanaryRun, judgments: list[CanaryJudgment]) -> dict[str, Any]:
    """The stage's Orca-like outputs so far."""
    last = judgments[-1] if judgments else None
    return {
        "canaryRunId": str(run.pk),
        "canaryScores": [judgment.score for judgment in judgments if judgment.score is not None],
        "canaryScoreMessage": last.reason if last else "",
        "overallScore": last.score if last else None,
        "overallResult": last.classification if last else "",
        "lastUpdatedIso": clock.now().isoformat(),
        "intervals": [
            {"index": item.index, "score": item.score, "classification": item.classification} for item in judgments
        ],
        "reportUrl": report_url(run),
        "warnings": [f"Interval {item.index}: {warning}" for item in judgments for warning in item.warnings],
        "deployedServerGroups": dict(ctx.stage.context.get("deployedServerGroups") or {}),
    }


def report_url(run: CanaryRun) -> str:
    return reverse("canary:run", args=[run.application.name, run.pk])


def _running(ctx: TaskContext, run: CanaryRun, judgments: list[CanaryJudgment], due: datetime) -> TaskResult:
    facts = outputs(ctx, run, judgments)
    message = (
        f"Interval {len(judgments) + 1} of {run.plan['intervals']} is judged at {due.isoformat(timespec='seconds')}."
    )
    return TaskResult(Status.RUNNING, message=message, wake_at=due, context=facts, outputs=facts)


def fail_open_run(stage: StageExecution) -> None:
    """A stage that failed outside the analysis (a timeout, a refusal) ends its run too."""
    run = CanaryRun.objects.filter(stage=stage, state=CanaryRun.State.RUNNING).first()
    if run is not None:
        finish_run(run, CanaryRun.State.FAILED, message=stage.failure_message or f"{stage.name} failed.")


def _ended(ctx: TaskContext, run: CanaryRun, judgments: list[CanaryJudgment], state: str, message: str) -> TaskResult:
    facts = outputs(ctx, run, judgments)
    last = judgments[-1]
    finish_run(run, state, score=last.score, classification=last.classification, message=message)
    status = Status.SUCCEEDED if state == CanaryRun.State.SUCCEEDED else Status.TERMINAL
    return TaskResult(status, message=message, context=facts, outputs=facts)
