from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from clouds.actions import ACCOUNT_LEVELS
from clouds.credentials import check_reference
from clouds.models import Account, Cluster, LoadBalancer, ServerGroup, artifact_errors
from spinweb.permissions import resolve_groups


class AccountSerializer(serializers.ModelSerializer[Account]):
    """A cloud account. ``credentialsRef`` is where the secret lives, never the secret."""

    permissions = serializers.JSONField(required=False, help_text='{"READ": [group, ...], "WRITE": [...]}')

    class Meta:
        model = Account
        fields = [
            "name",
            "provider",
            "regions",
            "environment",
            "credentials_kind",
            "credentials_ref",
            "description",
            "artifacts",
            "permissions",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]
        extra_kwargs: dict[str, dict[str, Any]] = {"name": {"validators": []}}

    def validate_name(self, value: str) -> str:
        if self.instance is not None:
            if value != self.instance.name:
                raise serializers.ValidationError("An account's name cannot change once created.")
            return value
        if Account.objects.filter(name=value).exists():
            raise serializers.ValidationError(f"An account named {value!r} already exists.")
        return value

    def validate_artifacts(self, value: Any) -> Any:
        provider = self.initial_data.get("provider", getattr(self.instance, "provider", "local"))
        errors = artifact_errors(str(provider), value)
        whole = [message for path, message in errors if not path]
        if whole:
            raise serializers.ValidationError(whole)
        if errors:
            raise serializers.ValidationError(dict(errors))
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        def current(field: str, default: str) -> str:
            return str(attrs.get(field, getattr(self.instance, field, default)))

        errors = check_reference(
            current("provider", "local"), current("credentials_kind", "none"), current("credentials_ref", "")
        )
        if errors:
            raise serializers.ValidationError(errors)
        if "permissions" in attrs:
            try:
                attrs["grants"] = resolve_groups(attrs.pop("permissions"), ACCOUNT_LEVELS)
            except DjangoValidationError as exc:
                raise serializers.ValidationError(exc.message_dict) from None
        return attrs


class ClusterSerializer(serializers.ModelSerializer[Cluster]):
    application: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(slug_field="name", read_only=True)
    account: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(slug_field="name", read_only=True)
    moniker = serializers.SerializerMethodField()

    class Meta:
        model = Cluster
        fields = ["id", "name", "application", "account", "moniker", "created_at"]

    def get_moniker(self, cluster: Cluster) -> dict[str, Any]:
        return cluster.moniker.to_dict()


class ServerGroupSerializer(serializers.ModelSerializer[ServerGroup]):
    cluster: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(slug_field="name", read_only=True)
    application = serializers.CharField(source="cluster.application.name", read_only=True)
    account = serializers.CharField(source="cluster.account.name", read_only=True)
    capacity = serializers.SerializerMethodField()
    load_balancers: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="name", many=True, read_only=True
    )
    moniker = serializers.SerializerMethodField()

    class Meta:
        model = ServerGroup
        fields = [
            "id",
            "name",
            "application",
            "account",
            "cluster",
            "region",
            "sequence",
            "moniker",
            "artifact",
            "capacity",
            "enabled",
            "traffic_weight",
            "health",
            "instance_counts",
            "load_balancers",
            "provider_id",
            "created_at",
            "destroyed_at",
        ]

    def get_capacity(self, group: ServerGroup) -> dict[str, int]:
        return {"min": group.capacity_min, "max": group.capacity_max, "desired": group.capacity_desired}

    def get_moniker(self, group: ServerGroup) -> dict[str, Any]:
        return group.moniker.to_dict()


class LoadBalancerSerializer(serializers.ModelSerializer[LoadBalancer]):
    application: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(slug_field="name", read_only=True)
    account: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(slug_field="name", read_only=True)

    class Meta:
        model = LoadBalancer
        fields = ["id", "name", "application", "account", "region", "address", "provider_id", "created_at"]
