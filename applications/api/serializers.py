from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from applications.actions import LEVELS
from applications.models import Application
from spinweb.permissions import ordered, resolve_groups


class ApplicationSerializer(serializers.ModelSerializer[Application]):
    """Spinnaker's application JSON: ``name``, ``email``, ``description``, ``permissions``."""

    email = serializers.EmailField(source="owner_email")
    permissions = serializers.JSONField(
        required=False,
        help_text='{"READ": [group, ...], "WRITE": [...], "EXECUTE": [...]}; groups are Django groups.',
    )
    access = serializers.SerializerMethodField(help_text="What the requesting user may do here.")

    class Meta:
        model = Application
        fields = ["name", "email", "description", "permissions", "access", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]
        extra_kwargs: dict[str, dict[str, Any]] = {"name": {"validators": []}}

    def get_access(self, application: Application) -> list[str]:
        return ordered(application.levels_for(self.context["request"].user))

    def validate_name(self, value: str) -> str:
        if self.instance is not None:
            if value != self.instance.name:
                raise serializers.ValidationError("An application's name cannot change once created.")
            return value
        if Application.objects.filter(name=value).exists():
            raise serializers.ValidationError(f"An application named {value!r} already exists.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "permissions" in attrs:
            try:
                attrs["grants"] = resolve_groups(attrs.pop("permissions"), LEVELS)
            except DjangoValidationError as exc:
                raise serializers.ValidationError(exc.message_dict) from None
        return attrs
