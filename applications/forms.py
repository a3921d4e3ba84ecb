from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.models import Group

from applications.models import Application
from spinweb.permissions import Access


class ApplicationForm(forms.ModelForm[Application]):
    """Create or edit an application; permissions are three lists of groups."""

    read_groups = forms.ModelMultipleChoiceField(
        Group.objects.order_by("name"), required=False, label="READ groups", help_text="May see it."
    )
    write_groups = forms.ModelMultipleChoiceField(
        Group.objects.order_by("name"), required=False, label="WRITE groups", help_text="May change its configuration."
    )
    execute_groups = forms.ModelMultipleChoiceField(
        Group.objects.order_by("name"), required=False, label="EXECUTE groups", help_text="May run its pipelines."
    )

    class Meta:
        model = Application
        fields = ["name", "owner_email", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}
        help_texts = {"name": "Lowercase letters and digits, starting with a letter; cannot change later."}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["name"].disabled = True
            for level, groups in self.instance.permissions.items():
                self.fields[f"{level.lower()}_groups"].initial = Group.objects.filter(name__in=groups)

    def grants(self) -> dict[str, list[Group]]:
        return {level.value: list(self.cleaned_data[f"{level.value.lower()}_groups"]) for level in Access}


class ConfirmNameForm(forms.Form):
    """Destructive actions ask the user to type the name of what they destroy."""

    confirm = forms.CharField(label="Type the name to confirm")

    def __init__(self, *args: Any, expected: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.expected = expected

    def clean_confirm(self) -> str:
        value = str(self.cleaned_data["confirm"]).strip()
        if value != self.expected:
            raise forms.ValidationError(f"Type {self.expected!r} exactly to confirm.")
        return value
