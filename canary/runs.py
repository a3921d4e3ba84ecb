"""Canary runs: plan the intervals, fetch each interval's metrics, judge them, keep the evidence.

A ``kayentaCanary`` stage calls ``start_run`` once, then ``judge_interval`` for each interval
whose window has closed, then ``finish_run``. Every judgment stores the raw series it was judged
on, so ``canary.actions.replay_interval`` can judge them again with another config or thresholds.

A source that fails (unreachable, bad query, unknown source type, a metric naming a scope the
stage does not define) makes the whole interval an ``Error`` with the source's message: a canary
that could not be measured never passes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from applications.models import Application
from canary.judge.config import JudgeInputError
from canary.judge.request import judge_request
from canary.judge.results import ERROR
from canary.models import CanaryConfig, CanaryJudgment, CanaryRun
from canary.sources import Scope, Series, SourceError, source_for

if TYPE_CHECKING:
    from pipelines.models import Execution, StageExecution

# Kayenta's guidance: fewer points than this per metric make a verdict weak.
MIN_POINTS = 50
DEFAULT_STEP_SECONDS = 60
SIDES = ("control", "experiment")


@dataclass(frozen=True)
class Window:
    control_start: datetime
    control_end: datetime
    experiment_start: datetime
    experiment_end: datetime


def make_plan(
    *,
    lifetime_minutes: float,
    interval_minutes: float | None = None,
    begin_after_minutes: float = 0.0,
    lookback_minutes: float = 0.0,
    baseline_offset_minutes: float = 0.0,
    started: datetime,
) -> dict[str, Any]:
    """``CanaryRun.plan``: the interval defaults to the whole lifetime (one interval)."""
    interval = interval_minutes if interval_minutes else lifetime_minutes
    return {
        "lifetimeMinutes": lifetime_minutes,
        "intervalMinutes": interval,
        "beginAfterMinutes": begin_after_minutes,
        "lookbackMinutes": lookback_minutes,
        "baselineOffsetMinutes": baseline_offset_minutes,
        "intervals": max(1, math.floor(lifetime_minutes / interval + 1e-9)) if interval > 0 else 1,
        "startedAt": started.isoformat(),
    }


def windows(plan: dict[str, Any], started: datetime | None = None) -> list[Window]:
    """One window per interval: growing from the warm-up's end, or sliding over ``lookbackMinutes``.

    The control window is the experiment's moved back by ``baselineOffsetMinutes``.
    """
    origin = started or datetime.fromisoformat(plan["startedAt"])
    begin = origin + timedelta(minutes=float(plan.get("beginAfterMinutes") or 0))
    interval = timedelta(minutes=float(plan["intervalMinutes"]))
    lookback = timedelta(minutes=float(plan.get("lookbackMinutes") or 0))
    offset = timedelta(minutes=float(plan.get("baselineOffsetMinutes") or 0))
    result = []
    for index in range(1, int(plan["intervals"]) + 1):
        end = begin + interval * index
        start = end - lookback if lookback else begin
        result.append(Window(start - offset, end - offset, start, end))
    return result


def start_run(
    *,
    application: Application,
    execution: Execution | None,
    stage: StageExecution | None,
    config: CanaryConfig,
    thresholds: dict[str, Any],
    scopes: list[dict[str, Any]],
    plan: dict[str, Any],
    deployments: dict[str, Any] | None = None,
) -> CanaryRun:
    """The stage's run (the same row again when the stage's task runs again after a crash)."""
    if stage is not None:
        existing = CanaryRun.objects.filter(stage=stage).first()
        if existing is not None:
            return existing
    fields = {
        "application": application,
        "execution": execution,
        "config": config,
        "config_name": config.name,
        "config_version": config.version,
        "config_document": config.document,
        "thresholds": thresholds,
        "scopes": scopes,
        "plan": plan,
        "deployments": deployments or {},
    }
    try:
        with transaction.atomic():
            return CanaryRun.objects.create(stage=stage, **fields)
    except IntegrityError:
        return CanaryRun.objects.get(stage=stage)


# Judging -------------------------------------------------------------------------------------


def judge_interval(run: CanaryRun, index: int, window: Window) -> CanaryJudgment:
    """Fetch, store and judge interval ``index``; a judgment already stored is returned as it is."""
    existing = run.judgments.filter(index=index).first()
    if existing is not None:
        return existing
    fields: dict[str, Any] = {
        "control_start": window.control_start,
        "control_end": window.control_end,
        "experiment_start": window.experiment_start,
        "experiment_end": window.experiment_end,
    }
    try:
        data, warnings = collect(run.config_document, run.scopes, window)
    except SourceError as error:
        fields.update(classification=ERROR, reason=str(error), error=str(error), data={"metrics": {}})
    else:
        fields.update(data=data, warnings=warnings, **_verdict(run.config_document, run.thresholds, data))
    try:
        with transaction.atomic():
            return CanaryJudgment.objects.create(run=run, index=index, **fields)
    except IntegrityError:
        return run.judgments.get(index=index)


def _verdict(config_document: dict[str, Any], thresholds: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    try:
        result = judge_request(request_document_of(config_document, thresholds, data)).as_dict()
    except JudgeInputError as error:
        message = f"The canary config cannot be judged: {error.path} {error.message}"
        return {"classification": ERROR, "reason": message, "error": message}
    return {
        "score": result["score"],
        "classification": result["classification"],
        "reason": result["reason"],
        "result": result,
    }


def collect(
    config_document: dict[str, Any], scopes: list[dict[str, Any]], window: Window
) -> tuple[dict[str, Any], list[str]]:
    """Every metric's control and experiment series for ``window``; ``SourceError`` if one fails."""
    templates = config_document.get("templates") or {}
    metrics: dict[str, Any] = {}
    warnings: list[str] = []
    for metric in config_document.get("metrics") or []:
        name = str(metric.get("name"))
        scope = _scope_of(metric, scopes)
        query = metric.get("query") if isinstance(metric.get("query"), dict) else {}
        source = source_for(str(query.get("type") or ""))
        sides: dict[str, Any] = {}
        for side in SIDES:
            where = _scope(scope, side, window)
            try:
                series = source.fetch(metric, where, templates=templates)
            except SourceError as error:
                raise SourceError(f"metric {name!r}, {side} ({where.scope}): {error}") from None
            sides[side] = _side(series, where)
            count = sum(1 for value in series.values if math.isfinite(value))
            if count < MIN_POINTS:
                warnings.append(
                    f"Metric {name!r} has {count} {side} point{'s' if count != 1 else ''}, fewer than "
                    f"{MIN_POINTS}: the verdict on it is weak."
                )
        metrics[name] = sides
    return {"metrics": metrics}, warnings


def _scope_of(metric: dict[str, Any], scopes: list[dict[str, Any]]) -> dict[str, Any]:
    wanted = str(metric.get("scopeName") or "default")
    for scope in scopes:
        if scope.get("scopeName", "default") == wanted:
            return scope
    defined = ", ".join(repr(str(scope.get("scopeName", "default"))) for scope in scopes) or "none"
    raise SourceError(
        f"metric {metric.get('name')!r} names scope {wanted!r}, which the stage's scopes do not define "
        f"(they define {defined})"
    )


def _scope(scope: dict[str, Any], side: str, window: Window) -> Scope:
    start, end = (
        (window.control_start, window.control_end)
        if side == "control"
        else (window.experiment_start, window.experiment_end)
    )
    name = scope.get(f"{side}Scope")
    if not isinstance(name, str) or not name:
        raise SourceError(f"scope {scope.get('scopeName', 'default')!r} has no {side}Scope")
    try:
        step = int(scope.get("step") or DEFAULT_STEP_SECONDS)
        return Scope(
            scope=name,
            location=str(scope.get(f"{side}Location") or ""),
            start=start,
            end=end,
            step_seconds=step,
            account=str(scope.get("metricsAccountName") or ""),
        )
    except (TypeError, ValueError) as error:
        raise SourceError(f"scope {scope.get('scopeName', 'default')!r}: {error}") from None


def _side(series: Series, scope: Scope) -> dict[str, Any]:
    return {
        "values": [encode(value) for value in series.values],
        "timestamps": [moment.isoformat() for moment in series.timestamps],
        "query": series.query,
        "reason": series.reason,
        "scope": scope.scope,
        "location": scope.location,
    }


def encode(value: float) -> float | str:
    """A number as the judge's input file writes it: JSON has no NaN or infinity."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return value


def decode(value: float | str) -> float | None:
    """A stored value as a chart reads it: None for NaN, the number otherwise (±Inf kept)."""
    if isinstance(value, str):
        parsed = {"nan": math.nan, "+inf": math.inf, "-inf": -math.inf}.get(value.lower(), math.nan)
        return None if math.isnan(parsed) else parsed
    return float(value)


def finish_run(
    run: CanaryRun, state: str, *, score: float | None = None, classification: str = "", message: str = ""
) -> None:
    """Record how the run ended (once: a run already ended keeps its first ending)."""
    CanaryRun.objects.filter(pk=run.pk, ended_at__isnull=True).update(
        state=state, score=score, classification=classification, message=message, ended_at=timezone.now()
    )
    run.refresh_from_db()


def mark_cleaned_up(stage_id: Any) -> None:
    """Record on the run of stage ``stage_id`` that the baseline and canary it deployed are gone."""
    with transaction.atomic():
        run = CanaryRun.objects.select_for_update().filter(stage_id=stage_id).exclude(deployments={}).first()
        if run is not None and not run.deployments.get("cleanedUp"):
            run.deployments = {**run.deployments, "cleanedUp": True}
            run.save(update_fields=["deployments"])


# Replay and export ---------------------------------------------------------------------------


def request_document_of(
    config_document: dict[str, Any], thresholds: dict[str, Any], data: dict[str, Any]
) -> dict[str, Any]:
    metrics = data.get("metrics") or {}
    return {
        "canaryConfig": config_document,
        "scoreThresholds": {"marginal": thresholds.get("marginal", 50), "pass": thresholds.get("pass", 75)},
        "metrics": {
            name: {side: list(sides.get(side, {}).get("values", [])) for side in SIDES}
            for name, sides in metrics.items()
        },
    }


def request_document(
    judgment: CanaryJudgment,
    config_document: dict[str, Any] | None = None,
    thresholds: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The judgment as a ``canary judge --input`` document (its own config unless another is given)."""
    run = judgment.run
    return request_document_of(
        config_document if config_document is not None else run.config_document,
        thresholds if thresholds is not None else run.thresholds,
        judgment.data,
    )


def series_for_chart(judgment: CanaryJudgment, metric_name: str) -> dict[str, list[tuple[str, float | None]]]:
    """``{"control": [(iso, value | None)], "experiment": [...]}`` of one metric (None for a gap)."""
    sides = (judgment.data.get("metrics") or {}).get(metric_name) or {}
    return {
        side: list(
            zip(
                sides.get(side, {}).get("timestamps", []),
                map(decode, sides.get(side, {}).get("values", [])),
                strict=False,
            )
        )
        for side in SIDES
    }
