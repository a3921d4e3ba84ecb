"""Pipelines (Spinnaker pipeline JSON, versioned) and their executions (Orca's model)."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models

from applications.models import Application
from pipelines.statuses import ACTIVE, Status
from spinweb.permissions import Need, get_owned

if TYPE_CHECKING:
    from spinweb.permissions import AnyUser


class PipelineQuerySet(models.QuerySet["Pipeline"]):
    def visible_to(self, user: AnyUser) -> PipelineQuerySet:
        return self.filter(application__in=Application.objects.visible_to(user).values("pk"))


class Pipeline(models.Model):
    """A pipeline definition: Spinnaker's pipeline JSON, kept whole (unknown keys included)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="pipelines")
    name = models.CharField(max_length=255)
    config = models.JSONField(help_text="The pipeline JSON as saved (stages, triggers, parameterConfig…).")
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = PipelineQuerySet.as_manager()
    # Not stored: the warn-mode save policies' messages, on the pipeline ``actions.save_pipeline`` returns.
    policy_warnings: tuple[str, ...] | list[str] = ()

    class Meta:
        ordering = ["application__name", "name"]
        constraints = [models.UniqueConstraint(fields=["application", "name"], name="unique_pipeline_name")]

    def __str__(self) -> str:
        return f"{self.application.name}/{self.name}"

    @property
    def document(self) -> dict[str, Any]:
        """The pipeline JSON as Spinnaker shows it, with its id, application and name."""
        return {**self.config, "id": str(self.id), "application": self.application.name, "name": self.name}

    def audit_snapshot(self) -> dict[str, Any]:
        from pipelines.triggers.secrets import mask_secrets

        return {"name": self.name, "version": self.version, "config": mask_secrets(self.config)}


class PipelineVersion(models.Model):
    """One saved version of a pipeline, kept on every save so it can be diffed and restored."""

    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    config = models.JSONField()
    saved_at = models.DateTimeField(auto_now_add=True)
    saved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["pipeline", "-version"]
        constraints = [models.UniqueConstraint(fields=["pipeline", "version"], name="unique_pipeline_version")]

    def __str__(self) -> str:
        return f"{self.pipeline} v{self.version}"


class ExecutionQuerySet(models.QuerySet["Execution"]):
    def visible_to(self, user: AnyUser) -> ExecutionQuerySet:
        return self.filter(application__in=Application.objects.visible_to(user).values("pk"))

    def active(self) -> ExecutionQuerySet:
        return self.filter(status__in=ACTIVE)


class Execution(models.Model):
    """One run of a pipeline. Its status changes only through ``pipelines.engine``."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="executions")
    pipeline = models.ForeignKey(Pipeline, null=True, blank=True, on_delete=models.SET_NULL, related_name="executions")
    name = models.CharField(max_length=255)
    config = models.JSONField(help_text="The pipeline JSON as it was when this run started.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NOT_STARTED, db_index=True)
    trigger = models.JSONField(default=dict, help_text="type, user, parameters, and what the trigger carried.")
    trigger_type = models.CharField(
        max_length=32, default="manual", db_index=True, help_text="trigger.type, for filters."
    )
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    canceled = models.BooleanField(default=False)
    canceled_by = models.CharField(max_length=150, blank=True)
    cancellation_reason = models.TextField(blank=True)
    paused_by = models.CharField(max_length=150, blank=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    objects = ExecutionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["pipeline", "status"])]

    def __str__(self) -> str:
        return f"{self.name} {self.id}"

    @property
    def parameters(self) -> dict[str, Any]:
        return dict(self.trigger.get("parameters") or {})


class StageExecution(models.Model):
    """A stage of an execution; synthetic stages (before/after/on-failure) point at their parent."""

    class Owner(models.TextChoices):
        NONE = "", "Top-level"
        BEFORE = "STAGE_BEFORE", "Before its parent"
        AFTER = "STAGE_AFTER", "After its parent"
        FAILURE = "ON_FAILURE", "On its parent's failure"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    execution = models.ForeignKey(Execution, on_delete=models.CASCADE, related_name="stages")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="children")
    synthetic_owner = models.CharField(max_length=16, choices=Owner.choices, blank=True, default=Owner.NONE)
    ref_id = models.CharField(max_length=64)
    requisite_ref_ids = models.JSONField(default=list)
    type = models.CharField(max_length=64)
    name = models.CharField(max_length=255)
    position = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NOT_STARTED, db_index=True)
    config = models.JSONField(default=dict, help_text="The stage as written in the pipeline.")
    context = models.JSONField(default=dict, help_text="The stage after expression evaluation, plus task updates.")
    outputs = models.JSONField(default=dict)
    expression_failures = models.JSONField(default=list)
    failure_message = models.TextField(blank=True)
    restart_details = models.JSONField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["execution", "position"]
        constraints = [models.UniqueConstraint(fields=["execution", "ref_id"], name="unique_stage_ref_id")]

    def __str__(self) -> str:
        return f"{self.name} ({self.type})"

    @property
    def is_synthetic(self) -> bool:
        return self.parent_id is not None


class TaskExecution(models.Model):
    """One task of a stage. Workers claim it with a lease; a wait is a ``next_run_at`` in the future.

    ``id`` doubles as the idempotency key handed to the task, so a re-run after a crash finds
    what the first run did instead of doing it twice.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    stage = models.ForeignKey(StageExecution, on_delete=models.CASCADE, related_name="tasks")
    name = models.CharField(max_length=64, help_text="The task type, from the task registry.")
    position = models.PositiveSmallIntegerField(default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NOT_STARTED)
    next_run_at = models.DateTimeField(null=True, blank=True, help_text="When a worker should run it next.")
    enqueued_at = models.DateTimeField(null=True, blank=True)
    parked = models.BooleanField(default=False, help_text="Held while its execution is paused.")
    lease_owner = models.CharField(max_length=64, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0, help_text="Runs started, including retries and re-runs.")
    failures = models.PositiveIntegerField(default=0, help_text="Consecutive transient failures.")
    gate_passed = models.BooleanField(
        default=False, help_text="The task policies let it run; its later runs (while RUNNING) are not gated again."
    )
    message = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["stage", "position"]
        indexes = [models.Index(fields=["status", "next_run_at"])]

    def __str__(self) -> str:
        return f"{self.name} of {self.stage_id}"

    @property
    def idempotency_key(self) -> str:
        return str(self.id)


def get_pipeline_for_user(user: AnyUser, pk: Any, need: Need = "read") -> Pipeline:
    """The pipeline if ``user`` holds ``need`` on its application; 404 if unseen, 403 if only seen."""
    return get_owned(Pipeline.objects.select_related("application"), user, pk, need, "pipeline")


def get_execution_for_user(user: AnyUser, pk: Any, need: Need = "read") -> Execution:
    """The execution if ``user`` holds ``need`` on its application; 404 if unseen, 403 if only seen."""
    return get_owned(Execution.objects.select_related("application"), user, pk, need, "execution")


def is_uuid(value: Any) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


# Triggers (pipelines.triggers) ------------------------------------------------------------


class PipelineTrigger(models.Model):
    """One trigger of a pipeline's JSON, indexed so an event finds its candidates without reading
    every pipeline. Rewritten on every save of the pipeline (``pipelines.triggers.index.sync``).

    Cron rows of enabled triggers in enabled pipelines carry ``next_fire_at``; the sweeper claims
    due rows under a row lock (``SKIP LOCKED``) and moves the time on before it starts the run.
    """

    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="trigger_rows")
    index = models.PositiveSmallIntegerField(help_text="Position in the pipeline's triggers[].")
    trigger_id = models.CharField(max_length=255, blank=True)
    type = models.CharField(max_length=32)
    key = models.CharField(
        max_length=255, blank=True, help_text="Webhook source, git provider or upstream pipeline id."
    )
    enabled = models.BooleanField(default=True)
    cron_expression = models.CharField(max_length=255, blank=True)
    time_zone = models.CharField(max_length=64, blank=True)
    next_fire_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["pipeline", "index"]
        constraints = [models.UniqueConstraint(fields=["pipeline", "index"], name="unique_pipeline_trigger_index")]
        indexes = [models.Index(fields=["type", "key"])]

    def __str__(self) -> str:
        return f"{self.type} trigger {self.index} of {self.pipeline_id}"


class TriggerEvent(models.Model):
    """Something that may start pipelines: a cron tick, a webhook call, a git push, a run's end.

    Written once, with what came in (bounded, never a signature header or a secret).
    """

    class Kind(models.TextChoices):
        CRON = "cron", "Cron"
        WEBHOOK = "webhook", "Webhook"
        GIT = "git", "Git push"
        PIPELINE = "pipeline", "Pipeline completion"

    kind = models.CharField(max_length=16, choices=Kind.choices, db_index=True)
    source = models.CharField(max_length=255, help_text="Webhook source, git provider, cron trigger or ended run.")
    received_at = models.DateTimeField(db_index=True)
    payload = models.JSONField(default=dict, blank=True)
    summary = models.TextField(help_text="What happened, as a sentence.")
    remote_address = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.source} at {self.received_at:%Y-%m-%d %H:%M:%S}"


class TriggerEvaluationQuerySet(models.QuerySet["TriggerEvaluation"]):
    def visible_to(self, user: AnyUser) -> TriggerEvaluationQuerySet:
        return self.filter(application__in=Application.objects.visible_to(user).values("pk"))


class TriggerEvaluation(models.Model):
    """One trigger weighed against one event: fired (with its run), skipped, refused, or failed."""

    class Outcome(models.TextChoices):
        FIRED = "fired", "Fired"
        SKIPPED = "skipped", "Skipped"
        REFUSED = "refused", "Refused"
        ERROR = "error", "Error"

    event = models.ForeignKey(TriggerEvent, on_delete=models.CASCADE, related_name="evaluations")
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="+")
    pipeline = models.ForeignKey(Pipeline, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    pipeline_name = models.CharField(max_length=255, help_text="Kept when the pipeline is deleted.")
    trigger_index = models.PositiveSmallIntegerField()
    trigger_id = models.CharField(max_length=255, blank=True)
    trigger_type = models.CharField(max_length=32)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    reason = models.TextField(blank=True)
    execution = models.ForeignKey(Execution, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField()

    objects = TriggerEvaluationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["application", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.pipeline_name}: {self.outcome}"
