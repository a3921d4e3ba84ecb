"""Canary run reports: the application's runs, one run's intervals, one interval's evidence, replay.

Reading needs READ on the application; replaying needs WRITE (a replay judges stored data again
and changes nothing live, so it asks for no confirmation). The pictures are inline SVG drawn by
``canary.charts``; the figures come from the stored ``CanaryJudgment.result`` and ``data``.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.safestring import SafeString
from django.views.decorators.http import require_POST, require_safe

from applications.models import Application, get_application_for_user
from canary import actions, charts, runs
from canary.configs import SERVER_KEYS
from canary.judge.config import JudgeInputError
from canary.models import CanaryConfig, CanaryJudgment, CanaryReplay, CanaryRun, get_canary_run_for_user
from spinweb.models import AuditSource
from spinweb.permissions import Access, Need

if TYPE_CHECKING:
    from spinweb.permissions import AnyUser

RUNS_PER_PAGE = 50
AS_RUN = "run"
MAX_PASTED_BYTES = 2_000_000


def _run(request: HttpRequest, name: str, run_id: uuid.UUID, need: Need) -> CanaryRun:
    """The run if the user holds ``need`` on the application named in the URL (404 / 403 otherwise)."""
    run = get_canary_run_for_user(request.user, run_id, need)
    if run.application.name != name:
        raise Http404("No canary run found.")
    return run


def _judgment(run: CanaryRun, index: int) -> CanaryJudgment:
    judgment = run.interval(index)
    if judgment is None:
        raise Http404(f"The run has no judged interval {index}.")
    return judgment


def _can_write(application: Application, user: AnyUser) -> bool:
    return Access.WRITE.value in application.levels_for(user)


def execution_url(run: CanaryRun) -> str:
    """The pipeline execution page, with the canary stage selected when the run has one."""
    if run.execution_id is None:
        return ""
    url = reverse("pipelines:execution", args=[run.application.name, run.execution_id])
    return f"{url}?selected={run.stage_id}" if run.stage_id else url


# Lists and the run page ----------------------------------------------------------------------


@login_required
@require_safe
def run_list(request: HttpRequest, name: str) -> HttpResponse:
    application = get_application_for_user(request.user, name, "read")
    state = request.GET.get("state", "")
    rows = (
        CanaryRun.objects.filter(application=application)
        .annotate(judged=Count("judgments"))
        .order_by("-created_at", "-pk")
    )
    if state in CanaryRun.State.values:
        rows = rows.filter(state=state)
    page = Paginator(rows.defer("config_document"), RUNS_PER_PAGE).get_page(request.GET.get("page"))
    context = {"application": application, "page": page, "state": state, "states": CanaryRun.State.choices}
    return render(request, "canary/runs.html", context)


@login_required
@require_safe
def run_detail(request: HttpRequest, name: str, run_id: uuid.UUID) -> HttpResponse:
    run = _run(request, name, run_id, "read")
    judgments = list(run.judgments.defer("data", "result"))
    context = {
        "application": run.application,
        "run": run,
        "judgments": judgments,
        "pending": max(int(run.plan.get("intervals") or 0) - len(judgments), 0),
        "execution_url": execution_url(run),
        "config_json": json.dumps(run.config_document, indent=2, ensure_ascii=False),
        "polling": run.state == CanaryRun.State.RUNNING,
    }
    return render(request, "canary/run.html", context)


# The interval page ---------------------------------------------------------------------------


@dataclass(frozen=True)
class MetricRow:
    """One line of the metric table, from ``JudgeResult.as_dict()["metrics"][i]``."""

    name: str
    classification: str
    reason: str
    critical: bool
    muted: bool
    groups: list[str]
    effect_size: float | None
    estimate: float | None
    ci_lower: float | None
    ci_upper: float | None
    control: dict[str, Any]
    experiment: dict[str, Any]

    @classmethod
    def of(cls, metric: dict[str, Any]) -> MetricRow:
        return cls(
            name=str(metric.get("name", "")),
            classification=str(metric.get("classification", "")),
            reason=str(metric.get("reason") or ""),
            critical=bool(metric.get("critical")),
            muted=bool(metric.get("muted")),
            groups=list(metric.get("groups") or []),
            effect_size=metric.get("effectSize"),
            estimate=metric.get("estimate"),
            ci_lower=metric.get("ciLower"),
            ci_upper=metric.get("ciUpper"),
            control=metric.get("controlStats") or {},
            experiment=metric.get("experimentStats") or {},
        )


@dataclass(frozen=True)
class Side:
    """What was fetched for one side of one metric: the scope, the query, the points."""

    name: str
    scope: str
    location: str
    query: str
    reason: str
    points: int
    missing: int


@dataclass(frozen=True)
class MetricSection:
    name: str
    anchor: str
    classification: str
    time_series: SafeString
    distribution: SafeString
    sides: list[Side]
    warnings: list[str] = field(default_factory=list)


def _side(name: str, stored: dict[str, Any], chart_points: list[charts.Point]) -> Side:
    present = len(charts.finite(value for _, value in chart_points))
    return Side(
        name=name,
        scope=str(stored.get("scope") or ""),
        location=str(stored.get("location") or ""),
        query=str(stored.get("query") or ""),
        reason=str(stored.get("reason") or ""),
        points=len(stored.get("values") or []),
        missing=len(chart_points) - present,
    )


def metric_sections(judgment: CanaryJudgment, rows: list[MetricRow]) -> list[MetricSection]:
    """Per metric with stored data (judged first, in the result's order): charts, scopes, queries."""
    stored: dict[str, Any] = (judgment.data or {}).get("metrics") or {}
    judged = {row.name: row.classification for row in rows}
    names = [row.name for row in rows if row.name in stored] + [name for name in stored if name not in judged]
    sections = []
    for number, name in enumerate(names, start=1):
        series = runs.series_for_chart(judgment, name)
        ident = f"metric-{number}"
        sides = [_side(side, stored[name].get(side) or {}, series[side]) for side in charts.SIDES]
        sections.append(
            MetricSection(
                name=name,
                anchor=ident,
                classification=judged.get(name, ""),
                time_series=charts.time_series(
                    f"{ident}-time", name, series, judgment.control_start, judgment.experiment_start
                ),
                distribution=charts.distribution(f"{ident}-dist", name, series),
                sides=sides,
                warnings=[warning for warning in judgment.warnings if f"'{name}'" in warning],
            )
        )
    return sections


@dataclass(frozen=True)
class Change:
    metric: str
    before: str
    after: str


def changed_metrics(original: dict[str, Any], replayed: dict[str, Any]) -> list[Change]:
    """Metrics whose classification differs between two results ("—" where one lacks the metric)."""
    before = {str(m.get("name")): str(m.get("classification")) for m in original.get("metrics") or []}
    after = {str(m.get("name")): str(m.get("classification")) for m in replayed.get("metrics") or []}
    names = list(before) + [name for name in after if name not in before]
    return [
        Change(name, before.get(name, "—"), after.get(name, "—"))
        for name in names
        if before.get(name) != after.get(name)
    ]


class ReplayForm(forms.Form):
    """A config (the run's, one of the application's, or pasted JSON) and the score thresholds."""

    config = forms.ChoiceField(label="Canary config")
    document = forms.CharField(
        label="Or paste a canary config (JSON)",
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false", "class": "json-input"}),
        help_text="When filled in, it is used instead of the config picked above.",
    )
    marginal = forms.FloatField(label="Marginal threshold", min_value=0, max_value=100)
    passing = forms.FloatField(label="Pass threshold", min_value=0, max_value=100)

    def __init__(self, *args: Any, run: CanaryRun, configs: list[CanaryConfig], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.run = run
        self.configs = {str(config.pk): config for config in configs}
        as_run = (AS_RUN, f"{run.config_name} v{run.config_version}, as the run judged it")
        latest = [(key, f"{config.name} v{config.version} (current)") for key, config in self.configs.items()]
        choice = self.fields["config"]
        assert isinstance(choice, forms.ChoiceField)
        choice.choices = [as_run, *latest]

    def clean_document(self) -> dict[str, Any] | None:
        text: str = self.cleaned_data.get("document") or ""
        if not text.strip():
            return None
        if len(text.encode()) > MAX_PASTED_BYTES:
            raise forms.ValidationError("The pasted config is larger than 2 MB.")
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"Line {exc.lineno}, column {exc.colno}: {exc.msg}.") from None
        except RecursionError:
            raise forms.ValidationError("The JSON is nested too deeply.") from None
        if isinstance(parsed, dict) and isinstance(parsed.get("canaryConfig"), dict):
            parsed = parsed["canaryConfig"]  # a whole `canary judge --input` document: take its config
        if not isinstance(parsed, dict):
            raise forms.ValidationError("A canary config must be a JSON object.")
        return {key: value for key, value in parsed.items() if key not in SERVER_KEYS}

    def chosen(self) -> tuple[str, dict[str, Any]]:
        """(label, config document) of the valid form."""
        if self.cleaned_data["document"] is not None:
            return "edited (pasted JSON)", self.cleaned_data["document"]
        key = self.cleaned_data["config"]
        if key == AS_RUN:
            return f"{self.run.config_name} v{self.run.config_version} (as run)", self.run.config_document
        config = self.configs[key]
        return f"{config.name} v{config.version}", config.document

    def thresholds(self) -> dict[str, float]:
        return {"marginal": self.cleaned_data["marginal"], "pass": self.cleaned_data["passing"]}

    def add_judge_error(self, error: JudgeInputError) -> None:
        """Put the judge's complaint on the form field it is about, naming its JSON path."""
        if error.path.startswith("scoreThresholds"):
            target = "passing" if error.path.startswith("scoreThresholds.pass") else "marginal"
        elif error.path.startswith("canaryConfig") or error.path.startswith("metrics"):
            target = "document" if self.cleaned_data.get("document") is not None else "config"
        else:
            target = None
        self.add_error(target, f"{error.path}: {error.message}")


def _replay_form(run: CanaryRun, data: Any = None) -> ReplayForm:
    configs = list(CanaryConfig.objects.filter(application=run.application).order_by("name"))
    initial = {"config": AS_RUN, "marginal": run.thresholds.get("marginal"), "passing": run.thresholds.get("pass")}
    return ReplayForm(data, run=run, configs=configs, initial=initial)


def _judgment_page(
    request: HttpRequest, judgment: CanaryJudgment, form: ReplayForm | None = None, status: int = 200
) -> HttpResponse:
    run = judgment.run
    result: dict[str, Any] = judgment.result or {}
    rows = [MetricRow.of(metric) for metric in result.get("metrics") or []]
    replays = list(judgment.replays.select_related("created_by"))
    wanted = request.GET.get("replay", "")
    shown = next((replay for replay in replays if str(replay.pk) == wanted), None)
    can_write = _can_write(run.application, request.user)
    replayable = bool((judgment.data or {}).get("metrics"))
    context = {
        "application": run.application,
        "run": run,
        "judgment": judgment,
        "result": result,
        "rows": rows,
        "sections": metric_sections(judgment, rows),
        "intervals": int(run.plan.get("intervals") or 0),
        "replays": [(replay, changed_metrics(result, replay.result)) for replay in replays],
        "shown": shown,
        "shown_changes": changed_metrics(result, shown.result) if shown is not None else [],
        "can_write": can_write,
        "replayable": replayable,
        "form": form if form is not None else (_replay_form(run) if can_write and replayable else None),
    }
    return render(request, "canary/judgment.html", context, status=status)


@login_required
@require_safe
def judgment_detail(request: HttpRequest, name: str, run_id: uuid.UUID, index: int) -> HttpResponse:
    run = _run(request, name, run_id, "read")
    return _judgment_page(request, _judgment(run, index))


@login_required
@require_POST
def judgment_replay(request: HttpRequest, name: str, run_id: uuid.UUID, index: int) -> HttpResponse:
    """Judge the interval's stored data again with the chosen config and thresholds; store the replay."""
    run = _run(request, name, run_id, "write")
    judgment = _judgment(run, index)
    form = _replay_form(run, request.POST)
    if not form.is_valid():
        return _judgment_page(request, judgment, form, status=400)
    label, document = form.chosen()
    try:
        replay: CanaryReplay = actions.replay_interval(
            request.user,
            judgment,
            config_document=document,
            thresholds=form.thresholds(),
            label=label,
            source=AuditSource.UI,
        )
    except JudgeInputError as error:
        form.add_judge_error(error)
        return _judgment_page(request, judgment, form, status=400)
    url = reverse("canary:judgment", args=[run.application.name, run.pk, judgment.index])
    return redirect(f"{url}?replay={replay.pk}#replay-result")
