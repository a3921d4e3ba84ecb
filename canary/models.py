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
