"""Policies (Rego modules, versioned), the reference data they read, and the decision log."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class PolicyMode(models.TextChoices):
    ENFORCE = "enforce", "Enforce"
    WARN = "warn", "Warn only"


class Policy(models.Model):
    """One Rego module. Its ``package`` (read from the source) says which hook evaluates it.

    Enabled policies are compiled into the engine's bundle; ``warn`` mode records and shows
    violations without blocking. ``tests`` are cases run on every save and on demand:
    ``[{"name", "input": {...}, "data": {...}?, "expect": {"allowed": bool?, "deny": [..]?, "message": ".."?}}]``.
    """

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    source = models.TextField()
    package = models.CharField(max_length=255, db_index=True, editable=False)
    enabled = models.BooleanField(default=False)
    mode = models.CharField(max_length=8, choices=PolicyMode.choices, default=PolicyMode.ENFORCE)
    tests = models.JSONField(default=list, blank=True)
    version = models.PositiveIntegerField(default=1, editable=False)
    # The starter-library entry this policy was installed from ("" for one written here).
    starter = models.CharField(max_length=100, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "policies"

    def __str__(self) -> str:
        return self.name


class PolicyVersion(models.Model):
    """Every saved state of a policy; restoring one saves it again as a new version."""

    policy = models.ForeignKey(Policy, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    source = models.TextField()
    mode = models.CharField(max_length=8, choices=PolicyMode.choices)
    enabled = models.BooleanField()
    tests = models.JSONField(default=list, blank=True)
    saved_at = models.DateTimeField(auto_now_add=True)
    saved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["policy", "-version"]
        constraints = [models.UniqueConstraint(fields=["policy", "version"], name="unique_policy_version")]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class ReferenceData(models.Model):
    """A JSON document policies read as ``data.<key>`` (production accounts, approved images …)."""

    key = models.CharField(max_length=64, unique=True)
    description = models.TextField(blank=True)
    document = models.JSONField(default=dict, blank=True)
    version = models.PositiveIntegerField(default=1, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["key"]
        verbose_name_plural = "reference data"

    def __str__(self) -> str:
        return self.key


class PolicySetState(models.Model):
    """One row: the generation of the policy set. Every change of a policy, of reference data or
    of an account (policies read ``data.spinweb.accounts``) bumps it; each process compares it
    with the generation of its compiled bundle before a decision and rebuilds when they differ.
    """

    generation = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"policy set generation {self.generation}"


class PolicyInput(models.Model):
    """An input document a decision was made on, stored once per digest (sha256 of canonical JSON)."""

    digest = models.CharField(max_length=64, primary_key=True)
    document = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.digest


class DecisionResult(models.TextChoices):
    ALLOW = "allow", "Allowed"
    WARN = "warn", "Allowed with warnings"
    DENY = "deny", "Denied"
    ERROR = "error", "Engine error"


class PolicyDecision(models.Model):
    """One decision of one hook: what was asked, what came back, for whom. Never updated.

    Links to executions, stages and applications are plain ids and names, so the log outlives them.
    """

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    hook = models.CharField(max_length=16, db_index=True)
    package = models.CharField(max_length=255, db_index=True)
    input = models.ForeignKey(PolicyInput, on_delete=models.PROTECT, related_name="decisions")
    allowed = models.BooleanField()
    result = models.CharField(max_length=8, choices=DecisionResult.choices, db_index=True)
    # [{"policy": name, "mode": "enforce"|"warn", "message": text}]
    messages = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    engine = models.CharField(max_length=16)
    duration_ms = models.FloatField(default=0.0)
    username = models.CharField(max_length=150, blank=True, db_index=True)
    application = models.CharField(max_length=100, blank=True, db_index=True)
    execution_id = models.UUIDField(null=True, blank=True, db_index=True)
    stage_id = models.UUIDField(null=True, blank=True)
    subject = models.CharField(max_length=255, blank=True, help_text="What was decided on, in words.")
    dry_run = models.BooleanField(default=False)
    failed_open = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.package}: {self.result}"
