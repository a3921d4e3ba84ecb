"""Canary analysis from the command line.

- ``canary judge --input FILE``: judge raw metric values with a Kayenta canary config.
- ``canary runs [--application A] [--state S] [--json]``: the canary runs, newest first.
- ``canary report RUN_ID [--interval N] [--json]``: a run's intervals, or one interval in full.
- ``canary replay RUN_ID --interval N [--config FILE | --config-id ID] [--thresholds M,P] [--json]``:
  judge an interval's stored data again (the same as the API's replay; ``--json`` prints the same).
"""

from __future__ import annotations

import json
import sys
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from canary.api.runs import judgment_document, replay_document, replay_request, run_document, run_summary
from canary.judge import JudgeInputError
from canary.judge.request import judge_request
from canary.models import CanaryJudgment, CanaryReplay, CanaryRun
from spinweb.models import AuditSource

if TYPE_CHECKING:
    from datetime import datetime

INVALID = 2  # exit status for invalid input, as for the other commands
MISSING = 3  # no such run or interval


class Command(BaseCommand):
    help = "Canary analysis from the command line: judge, list runs, report on them, replay intervals."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="verb", required=True)
        judge = sub.add_parser("judge", help="Judge control/experiment values; print the verdict as JSON.")
        judge.add_argument("--input", required=True, help="Request JSON file, or - for standard input.")
        listing = sub.add_parser("runs", help="List canary runs, newest first.")
        listing.add_argument("--application", help="Only this application's runs.")
        listing.add_argument("--state", choices=CanaryRun.State.values, help="Only runs in this state.")
        listing.add_argument("--limit", type=int, default=50, help="At most this many runs (default 50).")
        listing.add_argument("--json", action="store_true", help="Print the runs as JSON.")
        report = sub.add_parser("report", help="A run's intervals, or one interval in full with --interval.")
        report.add_argument("run_id")
        report.add_argument("--interval", type=int, help="Show this interval (from 1) in full.")
        report.add_argument("--json", action="store_true", help="Print the API's JSON document.")
        replay = sub.add_parser("replay", help="Judge an interval's stored data again with another config.")
        replay.add_argument("run_id")
        replay.add_argument("--interval", type=int, required=True, help="The interval, from 1.")
        chosen = replay.add_mutually_exclusive_group()
        chosen.add_argument("--config", help="A Kayenta canary-config JSON file, or - for standard input.")
        chosen.add_argument("--config-id", help="A saved canary config: its id, or its name in the run's application.")
        replay.add_argument("--thresholds", metavar="M,P", help="Marginal and pass score thresholds, e.g. 50,75.")
        replay.add_argument("--user", help="Record the replay as this user's (default: system).")
        replay.add_argument("--json", action="store_true", help="Print the replay as JSON.")

    def handle(self, *args: Any, verb: str, **options: Any) -> None:
        if verb == "judge":
            self._judge(options["input"])
        elif verb == "runs":
            self._runs(options["application"], options["state"], options["limit"], options["json"])
        elif verb == "report":
            self._report(options["run_id"], options["interval"], options["json"])
        else:
            self._replay(**options)

    def _judge(self, name: str) -> None:
        document = self._read(name)
        try:
            result = judge_request(document)
        except JudgeInputError as exc:
            raise CommandError(str(exc), returncode=INVALID) from None
        self.stdout.write(json.dumps(result.as_dict(), indent=2, allow_nan=False))

    def _runs(self, application: str | None, state: str | None, limit: int, as_json: bool) -> None:
        rows = CanaryRun.objects.select_related("application")
        if application:
            rows = rows.filter(application__name=application)
        if state:
            rows = rows.filter(state=state)
        found = list(rows[: max(limit, 0)])
        if as_json:
            self._json([run_summary(run) for run in found])
        else:
            self._lines(runs_lines(found))

    def _report(self, run_id: str, interval: int | None, as_json: bool) -> None:
        run = self._run(run_id)
        if interval is None:
            self._json(run_document(run)) if as_json else self._lines(run_lines(run))
            return
        judgment = self._judgment(run, interval)
        if as_json:
            self._json(judgment_document(judgment))
        else:
            replays = judgment.replays.select_related("created_by")
            self._lines(judgment_lines(judgment, list(replays)))

    def _replay(self, run_id: str, interval: int, **options: Any) -> None:
        user = self._user(options.get("user"))
        judgment = self._judgment(self._run(run_id), interval)
        body: dict[str, Any] = {}
        if options.get("config"):
            body["canaryConfig"] = self._read(options["config"])
        elif options.get("config_id"):
            body["canaryConfigId"] = options["config_id"]
        if options.get("thresholds"):
            body["scoreThresholds"] = _thresholds(options["thresholds"])
        try:
            replay = replay_request(judgment, body, user, source=AuditSource.CLI)
        except JudgeInputError as exc:
            raise CommandError(str(exc), returncode=INVALID) from None
        replay = CanaryReplay.objects.select_related("judgment", "created_by").get(pk=replay.pk)
        self._json(replay_document(replay)) if options["json"] else self._lines(replay_lines(replay, judgment))

    def _run(self, run_id: str) -> CanaryRun:
        try:
            run = CanaryRun.objects.select_related("application").filter(pk=run_id).first()
        except (ValueError, ValidationError):  # a malformed id reads as a missing run
            run = None
        if run is None:
            raise CommandError(f"No canary run {run_id!r}.", returncode=MISSING)
        return run

    def _judgment(self, run: CanaryRun, index: int) -> CanaryJudgment:
        judgment = run.interval(index)
        if judgment is None:
            judged = ", ".join(str(i) for i in run.judgments.values_list("index", flat=True)) or "none yet"
            raise CommandError(
                f"Canary run {run.pk} has no judged interval {index} (judged: {judged}).", returncode=MISSING
            )
        return judgment

    def _user(self, name: str | None) -> Any:
        if not name:
            return None
        user = get_user_model().objects.filter(username=name).first()
        if user is None:
            raise CommandError(f"No user named {name!r}.", returncode=INVALID)
        return user

    def _json(self, document: Any) -> None:
        self.stdout.write(json.dumps(document, indent=2, allow_nan=False))

    def _lines(self, lines: list[str]) -> None:
        self.stdout.write("\n".join(lines))

    def _read(self, name: str) -> Any:
        try:
            text = sys.stdin.read() if name == "-" else Path(name).read_text()
            return json.loads(text)
        except OSError as exc:
            raise CommandError(f"Cannot read {name}: {exc.strerror}.", returncode=INVALID) from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            message = (
                f"{exc.msg} at line {exc.lineno}, column {exc.colno}"
                if isinstance(exc, json.JSONDecodeError)
                else str(exc)
            )
            raise CommandError(f"{name} is not JSON: {message}.", returncode=INVALID) from None


def _thresholds(text: str) -> dict[str, float]:
    """``"50,75"`` as ``{"marginal": 50, "pass": 75}`` (as the API is sent); the judge checks range and order."""
    parts = [part.strip() for part in text.split(",")]
    try:
        marginal, passing = (float(part) for part in parts)
    except ValueError:
        raise CommandError(
            f"--thresholds: give two numbers as MARGINAL,PASS (e.g. 50,75), not {text!r}.", returncode=INVALID
        ) from None
    return {"marginal": _whole(marginal), "pass": _whole(passing)}


def _whole(value: float) -> float:
    return int(value) if value.is_integer() else value


# Text output -----------------------------------------------------------------------------------


def _score(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _figure(value: Any) -> str:
    return "-" if value is None else f"{value:.4g}"


def _moment(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if value is not None else "-"


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]


def runs_lines(found: list[CanaryRun]) -> list[str]:
    if not found:
        return ["No canary runs."]
    rows = [["RUN", "APPLICATION", "CONFIG", "STATE", "SCORE", "RESULT", "STARTED"]]
    for run in found:
        config = f"{run.config_name} v{run.config_version}"
        rows.append(
            [
                str(run.pk),
                run.application.name,
                config,
                run.state,
                _score(run.score),
                run.classification or "-",
                _moment(run.created_at),
            ]
        )
    return _table(rows)


def run_lines(run: CanaryRun) -> list[str]:
    thresholds = run.thresholds or {}
    lines = [
        f"Canary run {run.pk} of {run.application.name}, config {run.config_name} v{run.config_version}",
        f"State {run.state}, score {_score(run.score)} {run.classification or ''}".rstrip()
        + f" (marginal {thresholds.get('marginal', 50)}, pass {thresholds.get('pass', 75)})",
        f"Started {_moment(run.created_at)}, ended {_moment(run.ended_at)}",
    ]
    if run.message:
        lines.append(f"Message: {run.message}")
    judgments = list(run.judgments.defer("data", "result").order_by("index"))
    planned = (run.plan or {}).get("intervals", "?")
    lines.append(f"Intervals judged: {len(judgments)} of {planned}")
    if judgments:
        rows = [["INTERVAL", "SCORE", "RESULT", "EXPERIMENT WINDOW", "REASON"]]
        for judgment in judgments:
            window = f"{_moment(judgment.experiment_start)} to {_moment(judgment.experiment_end)}"
            rows.append([str(judgment.index), _score(judgment.score), judgment.classification, window, judgment.reason])
        lines += _table(rows)
    return lines


def judgment_lines(judgment: CanaryJudgment, replays: list[CanaryReplay]) -> list[str]:
    run = judgment.run
    lines = [
        f"Interval {judgment.index} of canary run {run.pk} ({run.application.name}, {run.config_name} "
        f"v{run.config_version}): score {_score(judgment.score)}, {judgment.classification}",
        f"Reason: {judgment.reason or '-'}",
        f"Control window:    {_moment(judgment.control_start)} to {_moment(judgment.control_end)}",
        f"Experiment window: {_moment(judgment.experiment_start)} to {_moment(judgment.experiment_end)}",
    ]
    if judgment.error:
        lines.append(f"Error: {judgment.error}")
    lines += _result_lines(judgment.result)
    lines += _query_lines(judgment.data)
    lines += [f"Warning: {warning}" for warning in judgment.warnings]
    for replay in replays:
        who = replay.created_by.get_username() if replay.created_by else "system"
        lines.append(
            f"Replay {replay.pk} by {who} at {_moment(replay.created_at)} with {replay.config_label}: "
            f"score {_score(replay.score)}, {replay.classification}"
        )
    return lines


def _result_lines(result: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    groups = result.get("groupScores") or []
    if groups:
        lines.append("Group scores:")
        lines += [
            "  " + line for line in _table([[g["name"], _score(g["score"]), g["classification"]] for g in groups])
        ]
    metrics = result.get("metrics") or []
    if metrics:
        rows = [["METRIC", "RESULT", "EFFECT", "ESTIMATE", "CI", "COUNTS", "REASON"]]
        for metric in metrics:
            ci = f"[{_figure(metric.get('ciLower'))}, {_figure(metric.get('ciUpper'))}]"
            counts = f"{_count(metric, 'controlStats')}/{_count(metric, 'experimentStats')}"
            critical = " (critical)" if metric.get("critical") else ""
            rows.append(
                [
                    metric["name"] + critical,
                    metric["classification"],
                    _figure(metric.get("effectSize")),
                    _figure(metric.get("estimate")),
                    ci,
                    counts,
                    metric.get("reason") or "",
                ]
            )
        lines.append("Metrics:")
        lines += ["  " + line for line in _table(rows)]
    return lines


def _count(metric: dict[str, Any], key: str) -> str:
    stats = metric.get(key) or {}
    return str(stats.get("count", "-"))


def _query_lines(data: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for name, sides in (data.get("metrics") or {}).items():
        for side in ("control", "experiment"):
            found = sides.get(side) or {}
            where = f"{found.get('scope', '')}@{found.get('location', '')}".rstrip("@")
            points = len(found.get("values") or [])
            lines.append(f"Query {name} {side} ({where}, {points} points): {found.get('query', '')}")
    return lines


def replay_lines(replay: CanaryReplay, judgment: CanaryJudgment) -> list[str]:
    thresholds = replay.thresholds or {}
    lines = [
        f"Replay {replay.pk} of interval {judgment.index} with {replay.config_label} "
        f"(marginal {thresholds.get('marginal')}, pass {thresholds.get('pass')}): "
        f"score {_score(replay.score)}, {replay.classification}",
        f"Judged when run: score {_score(judgment.score)}, {judgment.classification}",
        f"Reason: {replay.result.get('reason', '')}",
    ]
    before = {metric["name"]: metric["classification"] for metric in (judgment.result.get("metrics") or [])}
    for metric in replay.result.get("metrics") or []:
        was = before.get(metric["name"], "-")
        change = f"{was} -> {metric['classification']}" if was != metric["classification"] else metric["classification"]
        lines.append(f"  {metric['name']}: {change}")
    return lines
