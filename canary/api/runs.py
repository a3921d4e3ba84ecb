"""Canary runs over REST: each run, its intervals with their evidence, their judge input, replays.

READ on the run's application to see, WRITE to replay. The JSON documents built here are also
what ``manage.py canary report --json`` and ``canary replay --json`` print, so a script reads
the same shapes from either.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import django_filters
from django.db.models import QuerySet
from django.http import Http404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from applications.models import Application
from canary import actions, runs
from canary.judge import JudgeInputError
from canary.models import CanaryConfig, CanaryJudgment, CanaryReplay, CanaryRun, get_canary_run_for_user
from spinweb.api import need_for
from spinweb.models import AuditSource

if TYPE_CHECKING:
    from datetime import datetime

    from spinweb.permissions import AnyUser

INDEX = OpenApiParameter("index", int, OpenApiParameter.PATH, description="The interval, from 1.")
FILTERS = [
    OpenApiParameter("application", str, description="Only this application's runs."),
    OpenApiParameter("state", str, many=True, enum=CanaryRun.State.values, description="Only runs in these states."),
    OpenApiParameter("execution", OpenApiTypes.UUID, description="Only the runs of this pipeline execution."),
    OpenApiParameter("page", int),
]


# Documents -----------------------------------------------------------------------------------


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _username(user: Any) -> str | None:
    return str(user.get_username()) if user is not None else None


def run_summary(run: CanaryRun) -> dict[str, Any]:
    """A run as the list shows it: what it judged with, how it stands."""
    return {
        "id": str(run.pk),
        "application": run.application.name,
        "executionId": str(run.execution_id) if run.execution_id else None,
        "stageId": str(run.stage_id) if run.stage_id else None,
        "canaryConfigId": str(run.config_id) if run.config_id else None,
        "canaryConfigName": run.config_name,
        "canaryConfigVersion": run.config_version,
        "scoreThresholds": run.thresholds,
        "state": run.state,
        "score": run.score,
        "classification": run.classification,
        "message": run.message,
        "createdAt": _iso(run.created_at),
        "endedAt": _iso(run.ended_at),
        "reportUrl": reverse("canary:run", args=[run.application.name, run.pk]),
    }


def _windows(judgment: CanaryJudgment) -> dict[str, Any]:
    return {
        "control": {"start": _iso(judgment.control_start), "end": _iso(judgment.control_end)},
        "experiment": {"start": _iso(judgment.experiment_start), "end": _iso(judgment.experiment_end)},
    }


def interval_summary(judgment: CanaryJudgment) -> dict[str, Any]:
    """One interval in the run's table: its verdict and windows, without the series."""
    return {
        "index": judgment.index,
        "score": judgment.score,
        "classification": judgment.classification,
        "reason": judgment.reason,
        "judgedAt": _iso(judgment.judged_at),
        "windows": _windows(judgment),
        "warnings": list(judgment.warnings),
        "error": judgment.error,
    }


def run_document(run: CanaryRun) -> dict[str, Any]:
    """A run with its plan, scopes, deployments, config snapshot and every interval's verdict."""
    judgments = run.judgments.defer("data", "result").order_by("index")
    return {
        **run_summary(run),
        "plan": run.plan,
        "scopes": run.scopes,
        "deployments": run.deployments,
        "canaryConfig": run.config_document,
        "intervals": [interval_summary(judgment) for judgment in judgments],
    }


def replay_document(replay: CanaryReplay) -> dict[str, Any]:
    return {
        "id": replay.pk,
        "runId": str(replay.judgment.run_id),
        "interval": replay.judgment.index,
        "config": replay.config_label,
        "canaryConfig": replay.config_document,
        "scoreThresholds": replay.thresholds,
        "score": replay.score,
        "classification": replay.classification,
        "result": replay.result,
        "createdAt": _iso(replay.created_at),
        "createdBy": _username(replay.created_by),
    }


def judgment_document(judgment: CanaryJudgment) -> dict[str, Any]:
    """One interval in full: the judge's result, the raw series with their queries, the replays."""
    replays = judgment.replays.select_related("created_by", "judgment")
    return {
        "runId": str(judgment.run_id),
        **interval_summary(judgment),
        "reportUrl": reverse("canary:judgment", args=[judgment.run.application.name, judgment.run_id, judgment.index]),
        "result": judgment.result,
        "data": judgment.data,
        "replays": [replay_document(replay) for replay in replays],
    }


# Lookups and replay input ----------------------------------------------------------------------


def get_judgment(run: CanaryRun, index: Any) -> CanaryJudgment:
    judgment = run.interval(index)
    if judgment is None:
        raise Http404(f"Canary run {run.pk} has no judged interval {index}.")
    return judgment


def find_config(run: CanaryRun, ident: Any, user: AnyUser | None) -> CanaryConfig:
    """A config by id, or by name in the run's application; only those ``user`` can read (None: any)."""
    if not isinstance(ident, str) or not ident.strip():
        raise JudgeInputError("canaryConfigId", "must be a canary config's id or name.")
    configs = CanaryConfig.objects.all() if user is None else CanaryConfig.objects.visible_to(user)
    try:
        found = configs.filter(pk=uuid.UUID(ident.strip())).first()
    except ValueError:
        found = configs.filter(application=run.application, name=ident.strip()).first()
    if found is None:
        raise JudgeInputError("canaryConfigId", f"there is no canary config {ident!r} you can read.")
    return found


def replay_input(run: CanaryRun, body: Any, user: AnyUser | None) -> tuple[dict[str, Any], dict[str, Any] | None, str]:
    """``(config document, thresholds, label)`` from a replay request; ``JudgeInputError`` names the field.

    Without ``canaryConfig`` or ``canaryConfigId`` the run's own config is used (new thresholds
    only); thresholds given in part keep the run's value for the other one.
    """
    if not isinstance(body, dict):
        raise JudgeInputError("(document)", "must be a JSON object with canaryConfig or canaryConfigId.")
    if "canaryConfig" in body and "canaryConfigId" in body:
        raise JudgeInputError("canaryConfigId", "give canaryConfig or canaryConfigId, not both.")
    thresholds = body.get("scoreThresholds")
    if thresholds is not None and not isinstance(thresholds, dict):
        raise JudgeInputError("scoreThresholds", "must be a JSON object with marginal and pass.")
    merged = {**run.thresholds, **thresholds} if thresholds is not None else None
    if "canaryConfig" in body:
        document = body["canaryConfig"]
        if not isinstance(document, dict):
            raise JudgeInputError("canaryConfig", "must be a JSON object (a Kayenta canary config).")
        return document, merged, f"edited {document.get('name') or 'config'}"
    if "canaryConfigId" in body:
        config = find_config(run, body["canaryConfigId"], user)
        return config.document, merged, f"{config.name} v{config.version}"
    return run.config_document, merged, f"{run.config_name} v{run.config_version} (as run)"


def replay_request(judgment: CanaryJudgment, body: Any, user: AnyUser | None, *, source: str) -> CanaryReplay:
    """Judge ``judgment``'s stored data again as ``body`` asks; ``JudgeInputError`` on bad input."""
    document, thresholds, label = replay_input(judgment.run, body, user)
    return actions.replay_interval(
        user, judgment, config_document=document, thresholds=thresholds, label=label, source=source
    )


def invalid(error: JudgeInputError) -> Response:
    errors = [{"field": error.path, "message": error.message}]
    return Response({"detail": f"Invalid replay. {error}", "errors": errors}, status=status.HTTP_400_BAD_REQUEST)


# Views -----------------------------------------------------------------------------------------


class CanaryRunFilter(django_filters.FilterSet):
    application = django_filters.CharFilter(field_name="application__name")
    state = django_filters.MultipleChoiceFilter(choices=CanaryRun.State.choices)
    execution = django_filters.UUIDFilter(field_name="execution_id")

    class Meta:
        model = CanaryRun
        fields = ["application", "state", "execution"]


@extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
class CanaryRunViewSet(viewsets.GenericViewSet[CanaryRun]):
    """Canary analyses: each run, its judged intervals with their raw data, and replays of them."""

    filterset_class = CanaryRunFilter
    search_fields = ["config_name"]
    ordering_fields = ["created_at", "score"]

    def get_queryset(self) -> QuerySet[CanaryRun]:
        visible = Application.objects.visible_to(self.request.user).values("pk")
        return CanaryRun.objects.filter(application__in=visible).select_related("application")

    def get_object(self) -> CanaryRun:
        return get_canary_run_for_user(self.request.user, self.kwargs["pk"], need_for(self.request))

    @extend_schema(operation_id="canary_runs_list", parameters=FILTERS)
    def list(self, request: Request, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response([run_summary(run) for run in page or []])

    def retrieve(self, request: Request, pk: str, **kwargs: Any) -> Response:
        return Response(run_document(self.get_object()))

    @extend_schema(parameters=[INDEX])
    @action(detail=True, methods=["get"], url_path=r"intervals/(?P<index>[0-9]+)")
    def interval(self, request: Request, pk: str, index: str, **kwargs: Any) -> Response:
        """One interval in full: result, group scores, metrics, raw series and queries, replays."""
        return Response(judgment_document(get_judgment(self.get_object(), int(index))))

    @extend_schema(parameters=[INDEX])
    @action(detail=True, methods=["get"], url_path=r"intervals/(?P<index>[0-9]+)/input")
    def input(self, request: Request, pk: str, index: str, **kwargs: Any) -> Response:
        """The interval as a ``manage.py canary judge --input`` document: judging it gives the stored result."""
        return Response(runs.request_document(get_judgment(self.get_object(), int(index))))

    @extend_schema(parameters=[INDEX])
    @action(detail=True, methods=["post"], url_path=r"intervals/(?P<index>[0-9]+)/replay")
    def replay(self, request: Request, pk: str, index: str, **kwargs: Any) -> Response:
        """Judge the interval's stored data again: ``{"canaryConfig": {…} | "canaryConfigId": "…",
        "scoreThresholds": {"marginal": M, "pass": P}}`` (both optional)."""
        judgment = get_judgment(self.get_object(), int(index))
        try:
            replay = replay_request(judgment, request.data, request.user, source=AuditSource.API)
        except JudgeInputError as error:
            return invalid(error)
        return Response(replay_document(replay), status=status.HTTP_201_CREATED)
