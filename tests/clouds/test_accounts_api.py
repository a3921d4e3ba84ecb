"""Cloud accounts through the REST API: validation, credential references, permissions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission, User
from pytest_django.fixtures import Settings

from applications.models import Application
from clouds.models import Account, AccountGrant, Cluster
from spinweb.models import AuditEvent
from tests.conftest import api_as, assert_sentence, fields_of, make_user, message_for

URL = "/api/v1/accounts/"
SECRET_VALUE = "Zq8vN3kLpX2mW7rT5yB1cD4fG6hJ9sA0"  # what must never leave the environment variable

KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters:
- name: prod
  cluster:
    server: https://prod.example.com:6443
- name: staging
  cluster:
    server: https://staging.example.com:6443
users:
- name: deployer
  user:
    token: not-a-real-token
contexts:
- name: prod-context
  context:
    cluster: prod
    user: deployer
    namespace: shop
- name: staging-context
  context:
    cluster: staging
    user: deployer
current-context: staging-context
"""


def payload(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "aws-prod",
        "provider": "aws",
        "regions": ["us-east-1", "eu-west-1"],
        "environment": "prod",
        "credentials_kind": "none",
        "credentials_ref": "",
        "description": "Production AWS",
        "permissions": {"READ": ["shop-viewers"], "WRITE": ["shop-devs"]},
    }
    data.update(overrides)
    return data


def assert_nothing_saved() -> None:
    assert not Account.objects.filter(name="aws-prod").exists()
    assert not AccountGrant.objects.exists()
    assert not AuditEvent.objects.exists()


def audit_text() -> str:
    return json.dumps(list(AuditEvent.objects.values()), default=str)


@pytest.fixture
def kubeconfig(tmp_path: Path, settings: Settings) -> Path:
    path = tmp_path / "kubeconfig"
    path.write_text(KUBECONFIG)
    settings.SPINWEB_KUBECONFIG = str(path)
    return path


# Creating


def test_it_creates_an_account(admin: User, groups: dict[str, Group]) -> None:
    response = api_as(admin).post(URL, payload(), format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "aws-prod"
    assert body["provider"] == "aws"
    assert body["regions"] == ["us-east-1", "eu-west-1"]
    assert body["permissions"] == {"READ": ["shop-viewers"], "WRITE": ["shop-devs"]}
    account = Account.objects.get(name="aws-prod")
    assert account.environment == "prod"
    assert set(account.grants.values_list("group__name", "level")) == {("shop-viewers", "READ"), ("shop-devs", "WRITE")}


def test_it_lets_a_user_with_the_add_permission_create_an_account(groups: dict[str, Group]) -> None:
    operator = make_user("operator")
    operator.user_permissions.add(Permission.objects.get(codename="add_account"))

    response = api_as(operator).post(URL, payload(), format="json")

    assert response.status_code == 201, response.content
    assert Account.objects.filter(name="aws-prod").exists()


@pytest.mark.parametrize("persona", ["developer", "viewer", "nobody"])
def test_it_refuses_to_create_without_the_add_permission(
    request: pytest.FixtureRequest, groups: dict[str, Group], persona: str
) -> None:
    user = request.getfixturevalue(persona)

    response = api_as(user).post(URL, payload(), format="json")

    assert response.status_code == 403, response.content
    assert "add account" in response.json()["detail"]
    assert_nothing_saved()


def test_it_refuses_an_unknown_provider(admin: User, groups: dict[str, Group]) -> None:
    response = api_as(admin).post(URL, payload(provider="gcp"), format="json")

    assert response.status_code == 400, response.content
    body = response.json()
    assert fields_of(body) == ["provider"]
    assert "gcp" in message_for(body, "provider")
    assert_nothing_saved()


@pytest.mark.parametrize("regions", ["us-east-1", {"us-east-1": True}, [], None])
def test_it_refuses_regions_that_are_not_a_list_of_names(
    admin: User, groups: dict[str, Group], regions: object
) -> None:
    response = api_as(admin).post(URL, payload(regions=regions), format="json")

    assert response.status_code == 400, response.content
    body = response.json()
    assert fields_of(body) == ["regions"]
    assert_sentence(message_for(body, "regions"))
    assert_nothing_saved()


@pytest.mark.parametrize("regions", [["US-EAST-1"], ["us_east_1"], ["-east"], ["ok", 7], ["us-east-1", "us-east-1"]])
def test_it_refuses_bad_region_names(admin: User, groups: dict[str, Group], regions: list[Any]) -> None:
    response = api_as(admin).post(URL, payload(regions=regions), format="json")

    assert response.status_code == 400, response.content
    body = response.json()
    assert fields_of(body) == ["regions"]
    assert_sentence(message_for(body, "regions"))
    assert_nothing_saved()


@pytest.mark.parametrize("name", ["AWS-Prod", "aws_prod", "-aws", ""])
def test_it_refuses_a_bad_account_name(admin: User, groups: dict[str, Group], name: str) -> None:
    response = api_as(admin).post(URL, payload(name=name), format="json")

    assert response.status_code == 400, response.content
    body = response.json()
    assert fields_of(body) == ["name"]
    assert_sentence(message_for(body, "name"))
    assert not Account.objects.exists()
    assert not AuditEvent.objects.exists()


def test_it_refuses_a_duplicate_account_name(admin: User, local_account: Account) -> None:
    response = api_as(admin).post(URL, payload(name="local", provider="local", regions=["local"]), format="json")

    assert response.status_code == 400, response.content
    body = response.json()
    assert fields_of(body) == ["name"]
    assert "already exists" in message_for(body, "name")
    assert Account.objects.count() == 1


def test_it_refuses_an_unknown_group(admin: User, groups: dict[str, Group]) -> None:
    response = api_as(admin).post(URL, payload(permissions={"WRITE": ["ghosts"]}), format="json")

    assert response.status_code == 400, response.content
    assert fields_of(response.json()) == ["permissions.WRITE[0]"]
    assert_nothing_saved()


def test_it_refuses_execute_permission_on_an_account(admin: User, groups: dict[str, Group]) -> None:
    response = api_as(admin).post(URL, payload(permissions={"EXECUTE": ["shop-devs"]}), format="json")

    assert response.status_code == 400, response.content
    assert fields_of(response.json()) == ["permissions.EXECUTE"]
    assert_nothing_saved()


# Credential references


def test_it_refuses_an_unset_environment_variable(
    admin: User, groups: dict[str, Group], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SPINWEB_TEST_AWS_PROFILE", raising=False)
    data = payload(credentials_kind="env", credentials_ref="SPINWEB_TEST_AWS_PROFILE")

    response = api_as(admin).post(URL, data, format="json")

    assert response.status_code == 400, response.content
    body = response.json()
    assert fields_of(body) == ["credentials_ref"]
    message = message_for(body, "credentials_ref")
    assert "SPINWEB_TEST_AWS_PROFILE" in message
    assert "not set" in message
    assert_sentence(message)
    assert_nothing_saved()


def test_it_refuses_a_reference_that_is_not_a_variable_name(admin: User, groups: dict[str, Group]) -> None:
    response = api_as(admin).post(URL, payload(credentials_kind="env", credentials_ref="AWS PROFILE"), format="json")

    assert response.status_code == 400, response.content
    assert fields_of(response.json()) == ["credentials_ref"]
    assert_nothing_saved()


def test_it_stores_the_variable_name_and_never_its_value(
    admin: User, groups: dict[str, Group], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPINWEB_TEST_AWS_SECRET", SECRET_VALUE)
    data = payload(credentials_kind="env", credentials_ref="SPINWEB_TEST_AWS_SECRET")

    response = api_as(admin).post(URL, data, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["credentials_ref"] == "SPINWEB_TEST_AWS_SECRET"
    assert SECRET_VALUE not in response.content.decode()
    detail = api_as(admin).get(f"{URL}aws-prod/")
    assert detail.json()["credentials_ref"] == "SPINWEB_TEST_AWS_SECRET"
    assert SECRET_VALUE not in detail.content.decode()
    assert AuditEvent.objects.filter(object_type="clouds.account", action="create").count() == 1
    assert "SPINWEB_TEST_AWS_SECRET" in audit_text()
    assert SECRET_VALUE not in audit_text()
    assert SECRET_VALUE not in json.dumps(list(Account.objects.values()), default=str)


def test_it_refuses_a_missing_file(admin: User, groups: dict[str, Group], tmp_path: Path) -> None:
    missing = tmp_path / "aws.ini"
    data = payload(credentials_kind="file", credentials_ref=str(missing))

    response = api_as(admin).post(URL, data, format="json")

    assert response.status_code == 400, response.content
    body = response.json()
    assert fields_of(body) == ["credentials_ref"]
    message = message_for(body, "credentials_ref")
    assert str(missing) in message
    assert_sentence(message)
    assert_nothing_saved()


def test_it_refuses_a_relative_file_path(admin: User, groups: dict[str, Group]) -> None:
    response = api_as(admin).post(URL, payload(credentials_kind="file", credentials_ref="aws.ini"), format="json")

    assert response.status_code == 400, response.content
    assert "absolute path" in message_for(response.json(), "credentials_ref")
    assert_nothing_saved()


def test_it_accepts_an_existing_file(admin: User, groups: dict[str, Group], tmp_path: Path) -> None:
    credentials = tmp_path / "aws.ini"
    credentials.write_text("[default]\nregion = us-east-1\n")
    data = payload(credentials_kind="file", credentials_ref=str(credentials))

    response = api_as(admin).post(URL, data, format="json")

    assert response.status_code == 201, response.content
    assert Account.objects.get(name="aws-prod").credentials_ref == str(credentials)


def test_it_accepts_an_existing_kubeconfig_context(admin: User, groups: dict[str, Group], kubeconfig: Path) -> None:
    data = payload(
        name="k8s-prod",
        provider="kubernetes",
        regions=["shop"],
        credentials_kind="kubeconfig_context",
        credentials_ref="prod-context",
    )

    response = api_as(admin).post(URL, data, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["credentials_ref"] == "prod-context"
    assert Account.objects.get(name="k8s-prod").credentials_kind == "kubeconfig_context"


def test_it_refuses_a_context_the_kubeconfig_does_not_have(
    admin: User, groups: dict[str, Group], kubeconfig: Path
) -> None:
    data = payload(
        name="k8s-prod",
        provider="kubernetes",
        regions=["shop"],
        credentials_kind="kubeconfig_context",
        credentials_ref="dev-context",
    )

    response = api_as(admin).post(URL, data, format="json")

    assert response.status_code == 400, response.content
    body = response.json()
    assert fields_of(body) == ["credentials_ref"]
    message = message_for(body, "credentials_ref")
    assert "'dev-context'" in message
    assert str(kubeconfig) in message
    assert_sentence(message)
    assert not Account.objects.exists()


def test_it_refuses_a_context_when_the_kubeconfig_is_missing(
    admin: User, groups: dict[str, Group], tmp_path: Path, settings: Settings
) -> None:
    settings.SPINWEB_KUBECONFIG = str(tmp_path / "no-kubeconfig")
    data = payload(
        name="k8s-prod",
        provider="kubernetes",
        regions=["shop"],
        credentials_kind="kubeconfig_context",
        credentials_ref="prod-context",
    )

    response = api_as(admin).post(URL, data, format="json")

    assert response.status_code == 400, response.content
    message = message_for(response.json(), "credentials_ref")
    assert "cannot be read" in message
    assert not Account.objects.exists()


def test_it_answers_400_when_the_kubeconfig_is_not_yaml(
    admin: User, groups: dict[str, Group], tmp_path: Path, settings: Settings
) -> None:
    broken = tmp_path / "kubeconfig"
    broken.write_text("clusters: [half written")
    settings.SPINWEB_KUBECONFIG = str(broken)
    data = payload(
        name="k8s-prod",
        provider="kubernetes",
        regions=["shop"],
        credentials_kind="kubeconfig_context",
        credentials_ref="prod-context",
    )

    response = api_as(admin).post(URL, data, format="json")

    assert response.status_code == 400, response.content
    assert "cannot be read" in message_for(response.json(), "credentials_ref")
    assert not Account.objects.exists()


PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7MhgHcTz6sE2I2yPB\n"
    "-----END RSA PRIVATE KEY-----\n"
)
PASTED_SECRETS = {
    "aws-access-key-id": "AKIAIOSFODNN7EXAMPLE",
    "pem-private-key": PEM,
    "github-token": "ghp_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tV9wX1yZ3b5D",
    "random-key": "Xk29vLq8Tz3NwR7pYc5Md1Hf6Gs0Ja4Ue8Bo2Vi7",
    # AWS's documented example secret access key: 40 characters of base64, slashes included.
    "aws-secret-access-key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
}


@pytest.mark.parametrize("kind", ["env", "file"])
@pytest.mark.parametrize("secret", PASTED_SECRETS.values(), ids=PASTED_SECRETS.keys())
def test_it_refuses_a_pasted_secret(admin: User, groups: dict[str, Group], kind: str, secret: str) -> None:
    response = api_as(admin).post(URL, payload(credentials_kind=kind, credentials_ref=secret), format="json")

    assert response.status_code == 400, response.content
    body = response.json()
    assert fields_of(body) == ["credentials_ref"]
    message = message_for(body, "credentials_ref")
    assert "looks like a secret" in message
    assert_sentence(message)
    assert secret.strip() not in response.content.decode()
    assert_nothing_saved()


def test_it_refuses_a_pasted_secret_on_update(admin: User, local_account: Account) -> None:
    response = api_as(admin).patch(
        f"{URL}local/", {"credentials_kind": "env", "credentials_ref": PASTED_SECRETS["github-token"]}, format="json"
    )

    assert response.status_code == 400, response.content
    assert "looks like a secret" in message_for(response.json(), "credentials_ref")
    local_account.refresh_from_db()
    assert (local_account.credentials_kind, local_account.credentials_ref) == ("none", "")
    assert not AuditEvent.objects.exists()


def test_it_refuses_a_credentials_kind_the_provider_does_not_take(
    admin: User, groups: dict[str, Group], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPINWEB_TEST_AWS_PROFILE", "prod")
    data = payload(
        provider="local", regions=["local"], credentials_kind="env", credentials_ref="SPINWEB_TEST_AWS_PROFILE"
    )

    response = api_as(admin).post(URL, data, format="json")

    assert response.status_code == 400, response.content
    body = response.json()
    assert fields_of(body) == ["credentials_kind"]
    message = message_for(body, "credentials_kind")
    assert "local" in message
    assert "'env'" in message
    assert_sentence(message)
    assert_nothing_saved()


def test_it_refuses_a_reference_with_kind_none(admin: User, groups: dict[str, Group]) -> None:
    response = api_as(admin).post(URL, payload(credentials_ref="AWS_PROFILE_PROD"), format="json")

    assert response.status_code == 400, response.content
    assert fields_of(response.json()) == ["credentials_ref"]
    assert_nothing_saved()


# Seeing, changing, deleting


def test_it_hides_accounts_from_users_without_a_grant(nobody: User, developer: User, local_account: Account) -> None:
    for user in (nobody, developer):
        response = api_as(user).get(URL)
        assert response.status_code == 200
        assert response.json()["count"] == 0
        assert response.json()["results"] == []
        assert api_as(user).get(f"{URL}local/").status_code == 404


def test_it_shows_an_account_to_a_group_with_a_grant(
    viewer: User, developer: User, local_account: Account, groups: dict[str, Group]
) -> None:
    AccountGrant.objects.create(account=local_account, group=groups["shop-viewers"], level="READ")

    assert [row["name"] for row in api_as(viewer).get(URL).json()["results"]] == ["local"]
    assert api_as(viewer).get(f"{URL}local/").status_code == 200
    assert api_as(developer).get(URL).json()["count"] == 0


def test_it_lets_an_admin_change_an_account(admin: User, local_account: Account) -> None:
    response = api_as(admin).patch(f"{URL}local/", {"description": "My laptop"}, format="json")

    assert response.status_code == 200, response.content
    local_account.refresh_from_db()
    assert local_account.description == "My laptop"


def test_it_refuses_a_change_without_the_change_permission(
    viewer: User, local_account: Account, groups: dict[str, Group]
) -> None:
    AccountGrant.objects.create(account=local_account, group=groups["shop-viewers"], level="WRITE")

    response = api_as(viewer).patch(f"{URL}local/", {"description": "Mine now"}, format="json")

    assert response.status_code == 403, response.content
    local_account.refresh_from_db()
    assert local_account.description == ""


def test_it_refuses_to_rename_an_account(admin: User, local_account: Account) -> None:
    response = api_as(admin).patch(f"{URL}local/", {"name": "laptop"}, format="json")

    assert response.status_code == 400, response.content
    assert fields_of(response.json()) == ["name"]
    assert Account.objects.filter(name="local").exists()


def test_it_refuses_to_delete_an_account_a_cluster_uses(
    admin: User, local_account: Account, shop_cluster: Cluster
) -> None:
    response = api_as(admin).delete(f"{URL}local/")

    assert response.status_code == 409, response.content
    detail = response.json()["detail"]
    assert "1 cluster still uses it" in detail
    assert detail.endswith(".")
    assert Account.objects.filter(name="local").exists()
    assert not AuditEvent.objects.exists()


def test_it_deletes_an_unused_account(admin: User, local_account: Account) -> None:
    response = api_as(admin).delete(f"{URL}local/")

    assert response.status_code == 204, response.content
    assert not Account.objects.exists()


def test_it_refuses_to_delete_without_the_delete_permission(
    viewer: User, local_account: Account, groups: dict[str, Group], shop: Application
) -> None:
    AccountGrant.objects.create(account=local_account, group=groups["shop-viewers"], level="WRITE")

    response = api_as(viewer).delete(f"{URL}local/")

    assert response.status_code == 403, response.content
    assert Account.objects.filter(name="local").exists()
