"""Cloud accounts and what runs in them: clusters, server groups, load balancers (Clouddriver)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, RegexValidator
from django.db import models

from applications.models import Application
from clouds import naming
from clouds.credentials import CredentialsKind, raise_for_reference
from spinweb.permissions import Access, Need, get_owned, grant_filter, has_perm, is_admin, levels_of, require

if TYPE_CHECKING:
    from spinweb.permissions import AnyUser

SLUG_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
slug_validator = RegexValidator(
    SLUG_RE, "Use lowercase letters, digits and dashes, starting and ending with a letter or digit."
)


class ProviderKind(models.TextChoices):
    LOCAL = "local", "Local processes"
    KUBERNETES = "kubernetes", "Kubernetes"
    AWS = "aws", "AWS"


def validate_regions(value: Any) -> None:
    if not isinstance(value, list) or not value:
        raise ValidationError("Give at least one region or namespace as a list of names.")
    for index, item in enumerate(value):
        if not isinstance(item, str) or not SLUG_RE.match(item):
            raise ValidationError(
                f"Item {index} ({item!r}) is not a region or namespace name: use lowercase letters, digits and dashes."
            )
    if len(set(value)) != len(value):
        raise ValidationError("Each region or namespace may appear only once.")


class AccountQuerySet(models.QuerySet["Account"]):
    def visible_to(self, user: AnyUser) -> AccountQuerySet:
        if is_admin(user) or has_perm(user, "clouds.view_account"):
            return self.all()
        return self.filter(pk__in=Account.objects.filter(grant_filter(user, "read")).values("pk"))


class Account(models.Model):
    """A cloud account: where server groups run, and a reference to its credentials.

    The credentials themselves are never stored: ``credentials_ref`` names an environment
    variable, a file or a kubeconfig context that holds them.
    """

    name = models.CharField(max_length=63, unique=True, validators=[slug_validator])
    provider = models.CharField(max_length=16, choices=ProviderKind.choices, default=ProviderKind.LOCAL)
    regions = models.JSONField(
        default=list, validators=[validate_regions], help_text="Regions (AWS), namespaces (Kubernetes) or ['local']."
    )
    environment = models.CharField(
        max_length=32,
        default="dev",
        validators=[slug_validator],
        help_text="Environment label, e.g. dev, staging, prod.",
    )
    credentials_kind = models.CharField(max_length=24, choices=CredentialsKind.choices, default=CredentialsKind.NONE)
    credentials_ref = models.CharField(
        max_length=512,
        blank=True,
        help_text="Environment variable name, file path or kubeconfig context; never a secret.",
    )
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = AccountQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        raise_for_reference(self.provider, self.credentials_kind, self.credentials_ref)

    @property
    def permissions(self) -> dict[str, list[str]]:
        result: dict[str, list[str]] = {Access.READ.value: [], Access.WRITE.value: []}
        for grant in self.grants.all():
            result[grant.level].append(grant.group.name)
        return {level: sorted(groups) for level, groups in result.items()}

    def levels_for(self, user: AnyUser) -> set[str]:
        if has_perm(user, "clouds.view_account"):
            return levels_of(user, self.grants.all()) | {Access.READ.value}
        return levels_of(user, self.grants.all())

    def deletion_blockers(self) -> list[str]:
        clusters, balancers = self.clusters.count(), self.load_balancers.count()
        blockers = []
        if clusters:
            blockers.append(
                f"{clusters} cluster{'s' if clusters != 1 else ''} still use{'s' if clusters == 1 else ''} it"
            )
        if balancers:
            blockers.append(
                f"{balancers} load balancer{'s' if balancers != 1 else ''} still use{'s' if balancers == 1 else ''} it"
            )
        return blockers

    def audit_snapshot(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "provider": self.provider,
            "regions": self.regions,
            "environment": self.environment,
            "credentials_kind": self.credentials_kind,
            "credentials_ref": self.credentials_ref,
            "description": self.description,
            "permissions": self.permissions,
        }


class AccountGrant(models.Model):
    """One group holding READ (see) or WRITE (deploy to) on one account."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="grants")
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="account_grants")
    level = models.CharField(max_length=8, choices=[(Access.READ.value, "Read"), (Access.WRITE.value, "Write")])

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "group", "level"], name="unique_account_grant")]

    def __str__(self) -> str:
        return f"{self.group.name} {self.level} on {self.account.name}"


class ApplicationOwnedQuerySet(models.QuerySet[Any]):
    """Rows readable through their application's permissions."""

    application_path = "application"

    def visible_to(self, user: AnyUser) -> Any:
        return self.with_access(user, "read")

    def with_access(self, user: AnyUser, need: Need) -> Any:
        if is_admin(user):
            return self.all()
        apps = Application.objects.with_access(user, need).values("pk")
        return self.filter(**{f"{self.application_path}__in": apps})


class ClusterQuerySet(ApplicationOwnedQuerySet):
    pass


class Cluster(models.Model):
    """Server groups of one application sharing a Frigga cluster name in one account."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="clusters")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="clusters")
    name = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ClusterQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["account", "name"], name="unique_cluster_per_account")]

    def __str__(self) -> str:
        return self.name

    @property
    def moniker(self) -> naming.Moniker:
        return naming.parse(self.name)

    def clean(self) -> None:
        try:
            moniker = naming.parse(self.name)
        except naming.NamingError as exc:
            raise ValidationError({"name": str(exc)}) from None
        if moniker.sequence is not None:
            raise ValidationError({"name": f"{self.name!r} is a server group name; a cluster name has no -vNNN."})
        if self.application_id and moniker.app != self.application.name:
            raise ValidationError(
                {"name": f"Cluster {self.name!r} must start with its application's name {self.application.name!r}."}
            )

    def audit_snapshot(self) -> dict[str, Any]:
        return {"name": self.name, "application": self.application.name, "account": self.account.name}


class Health(models.TextChoices):
    UNKNOWN = "UNKNOWN", "Unknown"
    STARTING = "STARTING", "Starting"
    HEALTHY = "HEALTHY", "Healthy"
    UNHEALTHY = "UNHEALTHY", "Unhealthy"


class ServerGroupQuerySet(ApplicationOwnedQuerySet):
    application_path = "cluster__application"

    def active(self) -> ServerGroupQuerySet:
        return self.filter(destroyed_at__isnull=True)


def empty_instance_counts() -> dict[str, int]:
    return {"total": 0, "up": 0, "down": 0, "starting": 0, "unknown": 0, "outOfService": 0}


class ServerGroup(models.Model):
    """An immutable version of a cluster (``app-stack-detail-v003``) in one region."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="server_groups")
    name = models.CharField(max_length=255)
    sequence = models.PositiveSmallIntegerField(validators=[MaxValueValidator(999)])
    region = models.CharField(max_length=63, validators=[slug_validator])
    artifact = models.CharField(max_length=512, help_text="Artifact, image or command version deployed.")
    capacity_min = models.PositiveIntegerField(default=1)
    capacity_max = models.PositiveIntegerField(default=1)
    capacity_desired = models.PositiveIntegerField(default=1)
    enabled = models.BooleanField(default=False)
    traffic_weight = models.PositiveSmallIntegerField(default=0, validators=[MaxValueValidator(100)])
    health = models.CharField(max_length=12, choices=Health.choices, default=Health.UNKNOWN)
    instance_counts = models.JSONField(default=empty_instance_counts)
    provider_id = models.CharField(max_length=255, blank=True)
    load_balancers: models.ManyToManyField[LoadBalancer, Any] = models.ManyToManyField(
        "LoadBalancer", blank=True, related_name="server_groups"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    destroyed_at = models.DateTimeField(null=True, blank=True)

    objects = ServerGroupQuerySet.as_manager()

    class Meta:
        ordering = ["cluster", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["cluster", "region", "name"],
                condition=models.Q(destroyed_at__isnull=True),
                name="unique_active_server_group",
            ),
            models.CheckConstraint(
                condition=models.Q(capacity_min__lte=models.F("capacity_desired"))
                & models.Q(capacity_desired__lte=models.F("capacity_max")),
                name="server_group_capacity_in_order",
                violation_error_message="Capacity must satisfy min <= desired <= max.",
            ),
            models.CheckConstraint(condition=models.Q(traffic_weight__lte=100), name="server_group_weight_at_most_100"),
        ]
        indexes = [models.Index(fields=["cluster", "destroyed_at"])]

    def __str__(self) -> str:
        return self.name

    @property
    def moniker(self) -> naming.Moniker:
        return naming.parse(self.name)

    @property
    def is_active(self) -> bool:
        return self.destroyed_at is None

    def clean(self) -> None:
        try:
            moniker = naming.parse(self.name)
        except naming.NamingError as exc:
            raise ValidationError({"name": str(exc)}) from None
        if self.cluster_id and moniker.cluster != self.cluster.name:
            raise ValidationError({"name": f"{self.name!r} does not belong to cluster {self.cluster.name!r}."})
        if moniker.sequence != self.sequence:
            raise ValidationError({"sequence": f"The name {self.name!r} says sequence {moniker.sequence}."})

    def audit_snapshot(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "cluster": self.cluster.name,
            "region": self.region,
            "artifact": self.artifact,
            "capacity": {"min": self.capacity_min, "max": self.capacity_max, "desired": self.capacity_desired},
            "enabled": self.enabled,
            "traffic_weight": self.traffic_weight,
            "destroyed_at": self.destroyed_at.isoformat() if self.destroyed_at else None,
        }


class LoadBalancerQuerySet(ApplicationOwnedQuerySet):
    pass


class LoadBalancer(models.Model):
    """A load balancer in front of an application's enabled server groups."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="load_balancers")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="load_balancers")
    name = models.CharField(max_length=255)
    region = models.CharField(max_length=63, validators=[slug_validator])
    address = models.CharField(
        max_length=255, blank=True, help_text="Where it listens, e.g. 127.0.0.1:8081 or a DNS name."
    )
    provider_id = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = LoadBalancerQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["account", "region", "name"], name="unique_load_balancer")]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        try:
            moniker = naming.parse(self.name)
        except naming.NamingError as exc:
            raise ValidationError({"name": str(exc)}) from None
        if self.application_id and moniker.app != self.application.name:
            raise ValidationError(
                {"name": f"Load balancer {self.name!r} must start with the name of {self.application.name!r}."}
            )

    def audit_snapshot(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "application": self.application.name,
            "account": self.account.name,
            "region": self.region,
            "address": self.address,
        }


def get_account_for_user(user: AnyUser, name: str, need: Need = "read") -> Account:
    """The account by name if ``user`` may see it (READ) or deploy to it (WRITE); 404/403 otherwise."""
    account = Account.objects.prefetch_related("grants__group").filter(name=name).first()
    require(account.levels_for(user) if account is not None else set(), need, "account")
    assert account is not None
    return account


def get_cluster_for_user(user: AnyUser, pk: Any, need: Need = "read") -> Cluster:
    qs: models.QuerySet[Cluster] = Cluster.objects.select_related("application", "account")
    return get_owned(qs, user, pk, need, "cluster", "application")


def get_server_group_for_user(user: AnyUser, pk: Any, need: Need = "read") -> ServerGroup:
    qs: models.QuerySet[ServerGroup] = ServerGroup.objects.select_related("cluster__application", "cluster__account")
    return get_owned(qs, user, pk, need, "server group", "cluster__application")


def get_load_balancer_for_user(user: AnyUser, pk: Any, need: Need = "read") -> LoadBalancer:
    qs: models.QuerySet[LoadBalancer] = LoadBalancer.objects.select_related("application", "account")
    return get_owned(qs, user, pk, need, "load balancer", "application")
