"""Applications: the unit that owns clusters, pipelines and permissions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import models

from clouds.naming import NamingError, validate_app_name
from spinweb.permissions import Access, Need, grant_filter, is_admin, levels_of

if TYPE_CHECKING:
    from spinweb.permissions import AnyUser


def validate_application_name(value: str) -> None:
    try:
        validate_app_name(value)
    except NamingError as exc:
        raise ValidationError(str(exc)) from None


class ApplicationQuerySet(models.QuerySet["Application"]):
    def visible_to(self, user: AnyUser) -> ApplicationQuerySet:
        return self.with_access(user, "read")

    def with_access(self, user: AnyUser, need: Need) -> ApplicationQuerySet:
        if is_admin(user):
            return self.all()
        return self.filter(pk__in=Application.objects.filter(grant_filter(user, need)).values("pk"))


class Application(models.Model):
    """A Spinnaker application: a name (Frigga rules), an owner and its group permissions."""

    name = models.CharField(max_length=63, unique=True, validators=[validate_application_name])
    owner_email = models.EmailField()
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = ApplicationQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def permissions(self) -> dict[str, list[str]]:
        """Spinnaker's permissions document: ``{"READ": [group, ...], "WRITE": [...], "EXECUTE": [...]}``."""
        result: dict[str, list[str]] = {level.value: [] for level in Access}
        for grant in self.grants.all():
            result[grant.level].append(grant.group.name)
        return {level: sorted(groups) for level, groups in result.items()}

    def levels_for(self, user: AnyUser) -> set[str]:
        return levels_of(user, self.grants.all())

    def deletion_blockers(self) -> list[str]:
        """Spinnaker refuses to delete an application that still has running infrastructure."""
        from clouds.models import ServerGroup

        blockers = []
        groups = list(ServerGroup.objects.filter(cluster__application=self).active().values_list("name", flat=True))
        if groups:
            shown = ", ".join(groups[:5]) + (f" and {len(groups) - 5} more" if len(groups) > 5 else "")
            plural = "s" if len(groups) != 1 else ""
            blockers.append(f"it still has {len(groups)} server group{plural} ({shown}); destroy them first")
        balancers = self.load_balancers.count()
        if balancers:
            blockers.append(f"it still has {balancers} load balancer{'s' if balancers != 1 else ''}; delete them first")
        return blockers

    def audit_snapshot(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "owner_email": self.owner_email,
            "description": self.description,
            "permissions": self.permissions,
        }


class ApplicationGrant(models.Model):
    """One group holding one access level on one application."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="grants")
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="application_grants")
    level = models.CharField(max_length=8, choices=Access.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["application", "group", "level"], name="unique_application_grant")
        ]
        ordering = ["level", "group__name"]

    def __str__(self) -> str:
        return f"{self.group.name} {self.level} on {self.application.name}"


def get_application_for_user(user: AnyUser, name: str, need: Need = "read") -> Application:
    """The application by name if ``user`` holds ``need`` on it; 404 if unseen, 403 if only seen."""
    from spinweb.permissions import require

    application = Application.objects.prefetch_related("grants__group").filter(name=name).first()
    levels = application.levels_for(user) if application is not None else set()
    require(levels, need, "application")
    assert application is not None
    return application
