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
from clouds.credentials import ENV_NAME_RE, CredentialsKind, raise_for_reference, secret_kind
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


ARTIFACT_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
ARTIFACT_PLACEHOLDERS = ("{port}", "{python}", "{version}")
ARTIFACT_KEYS = {"command", "env", "allowedEnvironment", "description"}
RESERVED_ENV_PREFIX = "SPINWEB_"


def artifact_errors(provider: str, artifacts: Any) -> list[tuple[str, str]]:
    """Problems with an account's named artifacts as (JSON path, sentence); empty when usable.

    Commands may use only the ``{port}``, ``{python}`` and ``{version}`` placeholders, and
    environment values only ``{python}`` and ``{version}``; values that look like secrets are
    refused, because accounts are shown to everyone who can read them.
    """
    if not isinstance(artifacts, dict):
        return [("", "Give an object of named artifacts.")]
    if artifacts and provider != ProviderKind.LOCAL:
        return [("", "Only local accounts run named artifacts; leave this empty.")]
    errors: list[tuple[str, str]] = []
    for name, artifact in artifacts.items():
        if not ARTIFACT_NAME_RE.match(name):
            errors.append((name, "An artifact name uses letters, digits, '.', '_' and '-' (at most 63)."))
        elif not isinstance(artifact, dict):
            errors.append((name, 'Give an object with "command", "env", "allowedEnvironment" and "description".'))
        else:
            errors += [(f"{name}{path}", message) for path, message in _one_artifact_errors(artifact)]
    return errors


def _one_artifact_errors(artifact: dict[str, Any]) -> list[tuple[str, str]]:
    unknown = [key for key in artifact if key not in ARTIFACT_KEYS]
    errors = [(f".{key}", "Unknown key; use command, env, allowedEnvironment and description.") for key in unknown]
    errors += _command_errors(artifact.get("command"))
    errors += _env_errors(artifact.get("env", {}))
    allowed = artifact.get("allowedEnvironment", [])
    if not isinstance(allowed, list):
        errors.append((".allowedEnvironment", "Give a list of environment variable names."))
    else:
        errors += [
            (f".allowedEnvironment[{i}]", message) for i, key in enumerate(allowed) if (message := _env_name_error(key))
        ]
    if not isinstance(artifact.get("description", ""), str):
        errors.append((".description", "Give text."))
    return errors


def _command_errors(command: Any) -> list[tuple[str, str]]:
    if not isinstance(command, list) or not command:
        return [(".command", 'Give the command as a non-empty list of arguments, e.g. ["{python}", "app.py"].')]
    errors = []
    for index, argument in enumerate(command):
        if not isinstance(argument, str) or not argument:
            errors.append((f".command[{index}]", "Each argument is a non-empty string."))
        elif _stray_braces(argument, ARTIFACT_PLACEHOLDERS):
            errors.append((f".command[{index}]", "The only placeholders are {port}, {python} and {version}."))
    return errors


def _env_errors(env: Any) -> list[tuple[str, str]]:
    if not isinstance(env, dict):
        return [(".env", "Give an object of environment variables.")]
    errors = [(f".env.{key}", message) for key in env if (message := _env_name_error(key))]
    for key, value in env.items():
        if not isinstance(value, str):
            errors.append((f".env.{key}", "Give the value as a string."))
        elif _stray_braces(value, ("{python}", "{version}")):
            errors.append((f".env.{key}", "The only placeholders in values are {python} and {version}."))
        elif found := secret_kind(value):
            errors.append((f".env.{key}", f"This looks like a secret ({found}); accounts never hold secrets."))
    return errors


def _env_name_error(key: Any) -> str | None:
    if not isinstance(key, str) or not ENV_NAME_RE.match(key):
        return "Not an environment variable name (letters, digits and underscores)."
    if key.upper().startswith(RESERVED_ENV_PREFIX):
        return f"Names starting with {RESERVED_ENV_PREFIX} are set by Spinweb itself."
    return None


def _stray_braces(value: str, placeholders: tuple[str, ...]) -> bool:
    for placeholder in placeholders:
        value = value.replace(placeholder, "")
    return "{" in value or "}" in value


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
    artifacts = models.JSONField(
        default=dict,
        blank=True,
        help_text=(
            'Local accounts: the commands a pipeline may deploy, by name: {"name": {"command": [argv with '
            '{port}, {python}, {version}], "env": {}, "allowedEnvironment": [names a deploy may set], '
            '"description": ""}}. Never put secrets here.'
        ),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = AccountQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        raise_for_reference(self.provider, self.credentials_kind, self.credentials_ref)
        if self.artifacts is None:
            self.artifacts = {}
        errors = artifact_errors(self.provider, self.artifacts)
        if errors:
            raise ValidationError({"artifacts": [f"{path}: {m}" if path else m for path, m in errors]})

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
            "artifacts": self.artifacts,
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
    instances = models.JSONField(default=list, blank=True, help_text='[{"id", "address", "health"}] as last seen.')
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


class ProviderOperation(models.Model):
    """One mutating provider call, keyed by the caller's idempotency key.

    Created before the call acts (a creation also records the server group name it chose in
    ``request``) and completed with the call's JSON ``result``, or ``{"error": ...}`` for a
    permanent failure. A repeated call with the same key returns the recorded result.
    """

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="provider_operations")
    key = models.CharField(max_length=255)
    operation = models.CharField(max_length=64)
    target = models.CharField(max_length=512, help_text="What it acts on, e.g. shop-web-v003@local.")
    request = models.JSONField(default=dict, blank=True)
    result = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "key"], name="unique_provider_operation_key")]
        indexes = [models.Index(fields=["account", "operation", "completed_at"])]

    def __str__(self) -> str:
        return f"{self.operation} {self.target}"


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
