"""The audit log: who did what, when, from where, with the state before and after."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from spinweb.permissions import is_admin

if TYPE_CHECKING:
    from spinweb.permissions import AnyUser


class AuditAction(models.TextChoices):
    CREATE = "create", "Create"
    UPDATE = "update", "Update"
    DELETE = "delete", "Delete"
    RUN = "run", "Run"
    CANCEL = "cancel", "Cancel"
    JUDGE = "judge", "Judge"
    ROLLBACK = "rollback", "Rollback"
    PAUSE = "pause", "Pause"
    RESUME = "resume", "Resume"
    SKIP = "skip", "Skip"
    RESTART = "restart", "Restart"
    TOKEN_CREATE = "token_create", "Create API token"
    TOKEN_REVOKE = "token_revoke", "Revoke API token"


class AuditSource(models.TextChoices):
    API = "api", "REST API"
    UI = "ui", "Web UI"
    ADMIN = "admin", "Django admin"
    CLI = "cli", "Command line"
    SYSTEM = "system", "Spinweb itself"


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    def visible_to(self, user: AnyUser) -> AuditEventQuerySet:
        """Admins see everything; others see events of applications they can read."""
        if is_admin(user):
            return self.all()
        from applications.models import Application

        names = Application.objects.visible_to(user).values("name")
        return self.filter(application__in=names)


class AuditEvent(models.Model):
    """One recorded change or action. Rows are written once and never edited."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_name = models.CharField(max_length=150, help_text="Kept when the user is deleted.")
    source = models.CharField(max_length=8, choices=AuditSource.choices)
    action = models.CharField(max_length=16, choices=AuditAction.choices, db_index=True)
    object_type = models.CharField(max_length=64, db_index=True, help_text="app_label.model")
    object_id = models.CharField(max_length=64)
    object_repr = models.CharField(max_length=255)
    application = models.CharField(max_length=63, blank=True, db_index=True)
    before = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    after = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    detail = models.TextField(blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.actor_name} {self.action} {self.object_type} {self.object_repr}"

    @property
    def changed_fields(self) -> list[str]:
        before, after = self.before or {}, self.after or {}
        return sorted(key for key in set(before) | set(after) if before.get(key) != after.get(key))
