"""Forms of the policy pages: JSON fields report bad JSON by line and column."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from policies.hooks import Hook
from policies.models import DecisionResult, PolicyMode

JSON_ATTRS = {"rows": 12, "spellcheck": "false", "autocomplete": "off", "class": "code"}


def parse_json(text: str, what: str) -> Any:
    """The JSON in ``text``; a ValidationError naming the line and column of the first mistake."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(f"The {what} is not JSON: line {exc.lineno}, column {exc.colno}: {exc.msg}.") from None
    except RecursionError:
        raise ValidationError(f"The {what} is nested too deeply.") from None


def unix_lines(text: str) -> str:
    """Browsers submit a textarea with CRLF line ends; Rego sources are kept with LF."""
    return text.replace("\r\n", "\n")


def field_of(path: str) -> str:
    """The form field an action's issue path belongs to: ``source:3:14`` → ``source``, ``tests[1].x`` → ``tests``."""
    return path.split(":", 1)[0].split("[", 1)[0].split(".", 1)[0]


def add_issues(form: forms.BaseForm, issues: list[tuple[str, str]]) -> None:
    """Put each ``(path, sentence)`` beside its field; a path no field owns goes on top."""
    for path, message in issues:
        field = field_of(path)
        if field in form.fields:
            detail = path.removeprefix(field).lstrip(":.")
            prefix = f"{path}: " if detail and not path.startswith(f"{field}:") else ""
            form.add_error(field, f"{prefix}{message}")
        else:
            form.add_error(None, f"{path}: {message}" if path else message)


class PolicyForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="Unique; shown beside every message the policy produces.")
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    mode = forms.ChoiceField(
        choices=PolicyMode.choices, help_text="Warn only records and shows violations without blocking."
    )
    enabled = forms.BooleanField(required=False, help_text="Only enabled policies take part in decisions.")
    source = forms.CharField(
        label="Rego source",
        strip=False,
        widget=forms.Textarea(attrs={**JSON_ATTRS, "rows": 18, "wrap": "off"}),
        help_text="The package line says which hook evaluates it, e.g. package spinnaker.execution.stages.before.wait.",
    )
    tests = forms.CharField(
        label="Test cases (JSON)",
        required=False,
        strip=False,
        widget=forms.Textarea(attrs=JSON_ATTRS),
        help_text='A list of {"name", "input", "data"?, "expect": {"allowed"?, "deny"?, "message"?}}; '
        "every case runs on save and a failing one refuses it.",
    )

    def clean_source(self) -> str:
        return unix_lines(self.cleaned_data["source"])

    def clean_tests(self) -> list[Any]:
        text = self.cleaned_data["tests"].strip()
        if not text:
            return []
        cases = parse_json(text, "test case list")
        if not isinstance(cases, list):
            raise ValidationError("Give the test cases as a JSON list.")
        return cases


class ReferenceDataForm(forms.Form):
    key = forms.RegexField(
        regex=r"^[A-Za-z_][A-Za-z0-9_]*$",
        max_length=64,
        help_text="Policies read the document as data.<key>.",
        error_messages={"invalid": "Use letters, digits and underscores, starting with a letter."},
    )
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    document = forms.CharField(strip=False, widget=forms.Textarea(attrs={**JSON_ATTRS, "rows": 18}))

    def __init__(self, *args: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["key"].disabled = editing

    def clean_document(self) -> Any:
        return parse_json(self.cleaned_data["document"], "document")


HOOK_CHOICES = [(hook.value, hook.value) for hook in Hook]


class PlaygroundForm(forms.Form):
    hook = forms.ChoiceField(choices=HOOK_CHOICES)
    suffix = forms.CharField(
        required=False,
        label="Stage type, task type or operation",
        help_text="For the stage, task and deployment hooks: the last part of the package.",
    )
    input = forms.CharField(label="Input (JSON)", strip=False, widget=forms.Textarea(attrs={**JSON_ATTRS, "rows": 18}))
    use_source = forms.BooleanField(required=False, label="Evaluate the unsaved source below instead")
    source = forms.CharField(
        required=False,
        label="Unsaved Rego source",
        strip=False,
        widget=forms.Textarea(attrs={**JSON_ATTRS, "rows": 12, "wrap": "off"}),
    )

    def clean_source(self) -> str:
        return unix_lines(self.cleaned_data["source"])

    def clean_input(self) -> dict[str, Any]:
        document = parse_json(self.cleaned_data["input"], "input")
        if not isinstance(document, dict):
            raise ValidationError("The input must be a JSON object.")
        return document

    def clean(self) -> dict[str, Any] | None:
        data = super().clean() or {}
        if data.get("use_source") and not str(data.get("source", "")).strip():
            self.add_error("source", "Write the Rego source to evaluate, or untick the box.")
        return data


DRY_RUN_CHOICES = [("hide", "Hide dry runs"), ("show", "Include dry runs"), ("only", "Only dry runs")]


class DecisionFilterForm(forms.Form):
    hook = forms.ChoiceField(required=False, choices=[("", "Any hook"), *HOOK_CHOICES])
    result = forms.ChoiceField(required=False, choices=[("", "Any result"), *DecisionResult.choices])
    package = forms.CharField(required=False, label="Package contains")
    user = forms.CharField(required=False)
    application = forms.CharField(required=False)
    execution = forms.UUIDField(required=False, label="Execution id")
    since = forms.DateTimeField(required=False, label="From")
    until = forms.DateTimeField(required=False, label="To")
    dry_runs = forms.ChoiceField(required=False, label="Dry runs", choices=DRY_RUN_CHOICES)


class DryRunForm(forms.Form):
    user = forms.CharField(
        required=False, label="Simulate user", help_text="Decide as this user would be decided on (admins only)."
    )
