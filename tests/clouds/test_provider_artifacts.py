"""A local account's named artifacts: what a pipeline may run, validated where accounts are edited."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.core.exceptions import ValidationError

from clouds.models import Account
from clouds.providers.local.driver import SAMPLE_ARTIFACT
from spinweb.models import AuditEvent
from tests.conftest import api_as, assert_sentence, fields_of, message_for

URL = "/api/v1/accounts/"


def local_payload(artifacts: Any) -> dict[str, Any]:
    return {
        "name": "laptop",
        "provider": "local",
        "regions": ["local"],
        "environment": "dev",
        "credentials_kind": "none",
        "artifacts": artifacts,
    }


def artifact(**overrides: Any) -> dict[str, Any]:
    return {**SAMPLE_ARTIFACT, **overrides}


def test_it_saves_and_shows_named_artifacts(admin: User, groups: dict[str, Group]) -> None:
    response = api_as(admin).post(URL, local_payload({"sample": SAMPLE_ARTIFACT}), format="json")

    assert response.status_code == 201, response.content
    assert response.json()["artifacts"] == {"sample": SAMPLE_ARTIFACT}
    assert Account.objects.get(name="laptop").artifacts["sample"]["command"][0] == "{python}"
    after = AuditEvent.objects.get().after
    assert after is not None
    assert after["artifacts"] == {"sample": SAMPLE_ARTIFACT}


def test_it_changes_artifacts_of_an_existing_account(admin: User, local_account: Account) -> None:
    response = api_as(admin).patch(f"{URL}local/", {"artifacts": {"sample": SAMPLE_ARTIFACT}}, format="json")

    assert response.status_code == 200, response.content
    local_account.refresh_from_db()
    assert set(local_account.artifacts) == {"sample"}


@pytest.mark.parametrize(
    ("artifacts", "field"),
    [
        ({"sample": artifact(command=[])}, "artifacts.sample.command"),
        ({"sample": artifact(command="python app.py")}, "artifacts.sample.command"),
        ({"sample": artifact(command=["{python}", "--port={host}"])}, "artifacts.sample.command[1]"),
        ({"sample": artifact(command=["{python}", ""])}, "artifacts.sample.command[1]"),
        ({"sample": artifact(env={"SAMPLE_VERSION": "{port}"})}, "artifacts.sample.env.SAMPLE_VERSION"),
        ({"sample": artifact(env={"BAD NAME": "x"})}, "artifacts.sample.env.BAD NAME"),
        ({"sample": artifact(env={"SPINWEB_ACCOUNT": "x"})}, "artifacts.sample.env.SPINWEB_ACCOUNT"),
        ({"sample": artifact(allowedEnvironment="SAMPLE_LATENCY_MS")}, "artifacts.sample.allowedEnvironment"),
        ({"sample": artifact(allowedEnvironment=["OK", "SPINWEB_PORT"])}, "artifacts.sample.allowedEnvironment[1]"),
        ({"sample": artifact(shell=True)}, "artifacts.sample.shell"),
        ({"bad name": SAMPLE_ARTIFACT}, "artifacts.bad name"),
        ({"sample": ["{python}"]}, "artifacts.sample"),
        (["sample"], "artifacts"),
    ],
)
def test_it_refuses_a_malformed_artifact_naming_its_path(
    admin: User, groups: dict[str, Group], artifacts: Any, field: str
) -> None:
    response = api_as(admin).post(URL, local_payload(artifacts), format="json")

    assert response.status_code == 400, response.content
    body = response.json()
    assert fields_of(body) == [field]
    assert_sentence(message_for(body, field))
    assert not Account.objects.filter(name="laptop").exists()


def test_it_refuses_a_secret_in_an_artifact_environment(admin: User, groups: dict[str, Group]) -> None:
    secret = "Zq8vN3kLpX2mW7rT5yB1cD4fG6hJ9sA0"
    response = api_as(admin).post(URL, local_payload({"sample": artifact(env={"API_KEY": secret})}), format="json")

    assert response.status_code == 400, response.content
    body = response.json()
    assert "looks like a secret" in message_for(body, "artifacts.sample.env.API_KEY")
    assert secret not in response.content.decode()
    assert not Account.objects.filter(name="laptop").exists()


def test_it_refuses_artifacts_on_an_account_that_is_not_local(admin: User, groups: dict[str, Group]) -> None:
    data = {**local_payload({"sample": SAMPLE_ARTIFACT}), "provider": "aws", "regions": ["us-east-1"]}

    response = api_as(admin).post(URL, data, format="json")

    assert response.status_code == 400, response.content
    assert "Only local accounts" in message_for(response.json(), "artifacts")


def test_it_names_the_path_when_a_model_is_cleaned(db: None) -> None:
    account = Account(name="laptop", provider="local", regions=["local"], artifacts={"web": artifact(command=[7])})

    with pytest.raises(ValidationError) as caught:
        account.full_clean()

    assert caught.value.message_dict["artifacts"] == ["web.command[0]: Each argument is a non-empty string."]


def test_it_shows_artifacts_in_the_admin_form(admin: User, local_account: Account) -> None:
    from tests.conftest import browser_as

    page = browser_as(admin).get(f"/admin/clouds/account/{local_account.pk}/change/")

    assert page.status_code == 200
    assert 'name="artifacts"' in page.content.decode()
