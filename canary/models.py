"""Canary configs: Kayenta's canary-config JSON, versioned like pipelines."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models

from applications.models import Application
from spinweb.permissions import Need, get_owned

if TYPE_CHECKING:
    from spinweb.permissions import AnyUser


class CanaryConfigQuerySet(models.QuerySet["CanaryConfig"]):
    def visible_to(self, user: AnyUser) -> CanaryConfigQuerySet:
        return self.filter(application__in=Application.objects.visible_to(user).values("pk"))


class CanaryConfig(models.Model):
    """A Kayenta canary config, kept whole (unknown keys included) so it exports as it was imported.

    ``document``'s ``id``, ``name`` and ``applications[0]`` always equal the row's; changes go
    through ``canary.actions`` so every save is validated, versioned and audited.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="canary_configs")
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    document = models.JSONField(help_text="The Kayenta canary-config JSON (metrics, classifier, judge, templates).")
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = CanaryConfigQuerySet.as_manager()

    class Meta:
        ordering = ["application__name", "name"]
        constraints = [models.UniqueConstraint(fields=["application", "name"], name="unique_canary_config_name")]

    def __str__(self) -> str:
        return f"{self.application.name}/{self.name}"

    @property
    def metric_count(self) -> int:
        metrics = self.document.get("metrics")
        return len(metrics) if isinstance(metrics, list) else 0

    def kayenta_document(self) -> dict[str, Any]:
        """The config as Kayenta exports it: the stored JSON plus when it was last updated."""
        moment = self.updated_at
        stamps = {"updatedTimestamp": int(moment.timestamp() * 1000), "updatedTimestampIso": moment.isoformat()}
        return {**self.document, **stamps}

    def api_document(self) -> dict[str, Any]:
        """Kayenta's JSON plus Spinweb's version and who saved it (server keys, ignored on save)."""
        updated_by = self.updated_by.get_username() if self.updated_by is not None else None
        return {**self.kayenta_document(), "version": self.version, "updatedBy": updated_by}

    def audit_snapshot(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "document": self.document}


class CanaryConfigVersion(models.Model):
    """One saved version of a canary config, kept on every save so it can be diffed and restored."""

    config = models.ForeignKey(CanaryConfig, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    document = models.JSONField()
    saved_at = models.DateTimeField(auto_now_add=True)
    saved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["config", "-version"]
        constraints = [models.UniqueConstraint(fields=["config", "version"], name="unique_canary_config_version")]

    def __str__(self) -> str:
        return f"{self.config} v{self.version}"


def get_canary_config_for_user(user: AnyUser, pk: Any, need: Need = "read") -> CanaryConfig:
    """The config if ``user`` holds ``need`` on its application; 404 if unseen, 403 if only seen."""
    return get_owned(CanaryConfig.objects.select_related("application"), user, pk, need, "canary config")


class CanaryRun(models.Model):
    """One canary analysis: a ``kayentaCanary`` stage's run, judged once per interval.

    The config is copied as it was when the run started (``config_document``), so a report
    and a replay read exactly what was judged even after the config changed or was deleted.
    """

    class State(models.TextChoices):
        RUNNING = "RUNNING", "Running"
        SUCCEEDED = "SUCCEEDED", "Succeeded"
        FAILED = "FAILED", "Failed"
        CANCELED = "CANCELED", "Canceled"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="canary_runs")
    execution = models.ForeignKey(
        "pipelines.Execution", null=True, blank=True, on_delete=models.SET_NULL, related_name="canary_runs"
    )
    stage = models.OneToOneField(
        "pipelines.StageExecution", null=True, blank=True, on_delete=models.SET_NULL, related_name="canary_run"
    )
    config = models.ForeignKey(CanaryConfig, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs")
    config_name = models.CharField(max_length=255)
    config_version = models.PositiveIntegerField()
    config_document = models.JSONField(help_text="The canary config as it was when the run started.")
    thresholds = models.JSONField(help_text='{"marginal": M, "pass": P}')
    scopes = models.JSONField(default=list, help_text="Kayenta scopes with the server groups resolved.")
    plan = models.JSONField(default=dict, help_text="Lifetime, interval, warm-up, lookback and offset, in minutes.")
    deployments = models.JSONField(default=dict, help_text="The baseline and canary server groups it deployed.")
    state = models.CharField(max_length=16, choices=State.choices, default=State.RUNNING, db_index=True)
    score = models.FloatField(null=True, blank=True)
    classification = models.CharField(max_length=32, blank=True)
    message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.config_name} canary run {self.pk}"

    def interval(self, index: Any) -> CanaryJudgment | None:
        """The judgment of interval ``index`` (with this run attached), or None when not judged."""
        judgment = self.judgments.filter(index=index).first()
        if judgment is not None:
            judgment.run = self
        return judgment


class CanaryJudgment(models.Model):
    """One interval's verdict, with the raw series it was judged on (so it can be replayed).

    ``data`` is ``{"metrics": {name: {"control": SIDE, "experiment": SIDE}}}`` where SIDE is
    ``{"values": [number | "NaN" | "+Inf" | "-Inf"], "timestamps": [ISO-8601], "query": str,
    "reason": str, "scope": str, "location": str}``; ``result`` is ``JudgeResult.as_dict()``
    (empty when the interval is an Error: a source failed and ``error`` says how).
    """

    run = models.ForeignKey(CanaryRun, on_delete=models.CASCADE, related_name="judgments")
    index = models.PositiveIntegerField(help_text="The interval, from 1.")
    control_start = models.DateTimeField()
    control_end = models.DateTimeField()
    experiment_start = models.DateTimeField()
    experiment_end = models.DateTimeField()
    judged_at = models.DateTimeField(auto_now_add=True)
    score = models.FloatField(null=True, blank=True)
    classification = models.CharField(max_length=32)
    reason = models.TextField(blank=True)
    result = models.JSONField(default=dict)
    data = models.JSONField(default=dict)
    warnings = models.JSONField(default=list)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["run", "index"]
        constraints = [models.UniqueConstraint(fields=["run", "index"], name="unique_canary_judgment_interval")]

    def __str__(self) -> str:
        return f"{self.run} interval {self.index}"


class CanaryReplay(models.Model):
    """A judgment's stored data judged again with another config or thresholds."""

    judgment = models.ForeignKey(CanaryJudgment, on_delete=models.CASCADE, related_name="replays")
    config_label = models.CharField(max_length=300, help_text="Which config: a name and version, or 'edited'.")
    config_document = models.JSONField()
    thresholds = models.JSONField()
    score = models.FloatField(null=True, blank=True)
    classification = models.CharField(max_length=32)
    result = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"replay of {self.judgment} with {self.config_label}"


def get_canary_run_for_user(user: AnyUser, pk: Any, need: Need = "read") -> CanaryRun:
    """The run if ``user`` holds ``need`` on its application; 404 if unseen, 403 if only seen."""
    return get_owned(CanaryRun.objects.select_related("application"), user, pk, need, "canary run")
