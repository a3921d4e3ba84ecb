"""Policy, reference data and decision JSON. Serializers only check shapes; ``policies.actions`` saves."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from policies.models import DecisionResult, Policy, PolicyDecision, PolicyMode, PolicyVersion, ReferenceData


class PolicySerializer(serializers.ModelSerializer[Policy]):
    """A Rego policy; ``package`` (read from the source) says which hook evaluates it."""

    tests = serializers.JSONField(
        required=False, help_text='[{"name", "input", "data"?, "expect": {"allowed"?, "deny"?, "message"?}}]'
    )
    updated_by: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Policy
        fields = [
            "id",
            "name",
            "description",
            "source",
            "package",
            "enabled",
            "mode",
            "tests",
            "version",
            "starter",
            "created_at",
            "updated_at",
            "updated_by",
        ]
        read_only_fields = ["package", "version", "starter", "created_at", "updated_at"]
        # Uniqueness is the action's to check, in the same transaction as the save.
        extra_kwargs: dict[str, dict[str, Any]] = {"name": {"validators": []}}


class PolicyVersionSerializer(serializers.ModelSerializer[PolicyVersion]):
    saved_by: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = PolicyVersion
        fields = ["version", "name", "description", "source", "mode", "enabled", "tests", "saved_at", "saved_by"]


class RestoreSerializer(serializers.Serializer[Any]):
    version = serializers.IntegerField(min_value=1)


class CaseResultSerializer(serializers.Serializer[Any]):
    name = serializers.CharField()
    passed = serializers.BooleanField()
    detail = serializers.CharField()


class TestRunSerializer(serializers.Serializer[Any]):
    passed = serializers.BooleanField(help_text="True when every case passed.")
    cases = CaseResultSerializer(many=True)


class ReferenceDataSerializer(serializers.ModelSerializer[ReferenceData]):
    """A JSON document policies read as ``data.<key>``."""

    key = serializers.RegexField(r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=64)
    document = serializers.JSONField()
    updated_by: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = ReferenceData
        fields = ["key", "description", "document", "version", "updated_at", "updated_by"]
        read_only_fields = ["version", "updated_at"]


class PolicyDecisionSerializer(serializers.ModelSerializer[PolicyDecision]):
    """One logged decision; ``input_digest`` names the stored input (shown whole on the detail)."""

    input_digest = serializers.CharField(source="input_id", read_only=True)

    class Meta:
        model = PolicyDecision
        fields = [
            "id",
            "created_at",
            "hook",
            "package",
            "allowed",
            "result",
            "messages",
            "error",
            "engine",
            "duration_ms",
            "username",
            "application",
            "execution_id",
            "stage_id",
            "subject",
            "dry_run",
            "failed_open",
            "input_digest",
        ]


class PolicyDecisionDetailSerializer(PolicyDecisionSerializer):
    input = serializers.JSONField(source="input.document", read_only=True)

    class Meta(PolicyDecisionSerializer.Meta):
        fields = [*PolicyDecisionSerializer.Meta.fields, "input"]


class EvalRequestSerializer(serializers.Serializer[Any]):
    package = serializers.CharField(help_text="A hook's package, e.g. spinnaker.execution.stages.before.wait.")
    input = serializers.DictField(help_text="The input document, as the hook would build it.")


class ViolationSerializer(serializers.Serializer[Any]):
    policy = serializers.CharField()
    mode = serializers.ChoiceField(choices=PolicyMode.choices)
    message = serializers.CharField()


class EvalResponseSerializer(serializers.Serializer[Any]):
    allowed = serializers.BooleanField()
    deny = serializers.ListField(child=serializers.CharField(), required=False, help_text="Deny-set hooks.")
    message = serializers.CharField(required=False, help_text="The authz hook: the refusal message.")
    violations = ViolationSerializer(many=True)
    result = serializers.ChoiceField(choices=DecisionResult.choices)
    error = serializers.CharField(required=False)
    evaluated = serializers.IntegerField()
    decision = serializers.IntegerField(allow_null=True, help_text="The logged decision's id (a dry run).")


class DryRunRequestSerializer(serializers.Serializer[Any]):
    parameters = serializers.DictField(required=False, default=dict)
    user = serializers.CharField(required=False, allow_blank=True, help_text="Simulate this user (admins only).")
