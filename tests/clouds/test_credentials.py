"""clouds.credentials: telling a reference to a secret from a pasted secret, and checking references."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from pytest_django.fixtures import Settings

from clouds.credentials import check_reference, raise_for_reference, secret_kind
from tests.conftest import assert_sentence

KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters:
- name: prod
  cluster:
    server: https://prod.example.com:6443
users:
- name: deployer
  user:
    token: not-a-real-token
contexts:
- name: prod-context
  context:
    cluster: prod
    user: deployer
current-context: prod-context
"""

# secret_kind


@pytest.mark.parametrize(
    "reference",
    [
        "AWS_PROFILE_PROD",
        "AWS_SECRET_ACCESS_KEY",
        "SPINWEB_AWS_PROD_ACCESS_KEY_ID_2024",
        "GITHUB_TOKEN",
        "API_KEY",
        "/etc/spinweb/aws.ini",
        "/run/secrets/aws-token",
        "~/.aws/credentials",
        "/var/lib/spinweb/kube/prod-cluster-2024-eu-west-1.yaml",
        "prod-context",
        "kind-spinweb",
        "arn:aws:eks:us-east-1:123456789012:cluster/prod",
        "gke_my-project-123456_europe-west1-b_prod-cluster",
        "docker-desktop",
        "",
    ],
)
def test_it_does_not_flag_references(reference: str) -> None:
    assert secret_kind(reference) is None


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("AKIAIOSFODNN7EXAMPLE", "an AWS access key id"),
        ("ASIAY34FZKBOKMUTVV7A", "an AWS access key id"),
        (
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----",
            "a PEM key or certificate",
        ),
        ("-----BEGIN OPENSSH PRIVATE KEY-----", "a PEM key or certificate"),
        ("-----BEGIN CERTIFICATE-----", "a PEM key or certificate"),
        ("ghp_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tV9wX1yZ3b5D", "a GitHub token"),
        ("gho_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tV9wX1yZ3b5D", "a GitHub token"),
        ("xoxb-123456789012-abcdefghijkl", "a Slack token"),
        ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig", "a JSON web token"),
        ("password=hunter2", "a key=value secret"),
        ("API_KEY: abc", "a key=value secret"),
        ("token: abcdef", "a key=value secret"),
        ("client-key-data: LS0tLS1CRUdJTg==", "kubeconfig secret data"),
        ("line one\nline two", "multi-line text"),
        ("Xk29vLq8Tz3NwR7pYc5Md1Hf6Gs0Ja4Ue8B", "a random-looking key"),
    ],
)
def test_it_names_the_kind_of_secret(value: str, kind: str) -> None:
    assert secret_kind(value) == kind


@pytest.mark.parametrize(
    "value",
    [
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",  # AWS's documented example secret access key
        "Xk29vLq8Tz3NwR7pYc5Md1Hf6Gs0Ja4U+8Bo2Vi7",  # base64 alphabet, with a plus
        "9dGz2Rk/Lp4vQ1xN8cW3bT6yH0mJ5sF7aE2uI4oK",  # base64 alphabet, with a slash
    ],
)
def test_it_flags_an_aws_secret_access_key(value: str) -> None:
    assert secret_kind(value) is not None


def test_it_does_not_flag_a_short_mixed_name() -> None:
    assert secret_kind("Prod2") is None


# check_reference


def test_it_accepts_no_credentials_for_a_local_account() -> None:
    assert check_reference("local", "none", "") == {}


def test_it_accepts_a_set_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_PROFILE_PROD", "prod")

    assert check_reference("aws", "env", "AWS_PROFILE_PROD") == {}


def test_it_names_an_unset_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_PROFILE_PROD", raising=False)

    errors = check_reference("aws", "env", "AWS_PROFILE_PROD")

    assert list(errors) == ["credentials_ref"]
    assert "AWS_PROFILE_PROD" in errors["credentials_ref"]
    assert_sentence(errors["credentials_ref"])


def test_it_refuses_a_bad_variable_name() -> None:
    errors = check_reference("aws", "env", "1_PROFILE")

    assert "not an environment variable name" in errors["credentials_ref"]


def test_it_accepts_a_readable_file(tmp_path: Path) -> None:
    path = tmp_path / "aws.ini"
    path.write_text("[default]\n")

    assert check_reference("aws", "file", str(path)) == {}


def test_it_refuses_a_directory(tmp_path: Path) -> None:
    errors = check_reference("aws", "file", str(tmp_path))

    assert errors == {"credentials_ref": f"No file at {tmp_path}."}


def test_it_refuses_a_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "aws.ini"

    errors = check_reference("aws", "file", str(missing))

    assert errors == {"credentials_ref": f"No file at {missing}."}


def test_it_accepts_a_context_in_the_kubeconfig(tmp_path: Path, settings: Settings) -> None:
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(KUBECONFIG)
    settings.SPINWEB_KUBECONFIG = str(kubeconfig)

    assert check_reference("kubernetes", "kubeconfig_context", "prod-context") == {}
    assert "'staging'" in check_reference("kubernetes", "kubeconfig_context", "staging")["credentials_ref"]


@pytest.mark.parametrize(
    "content",
    [
        "",
        "this: [is not: yaml",
        "contexts: 5",
        "- a list\n- not a mapping\n",
    ],
    ids=["empty", "not-yaml", "contexts-not-a-list", "top-level-list"],
)
def test_it_reports_an_unreadable_kubeconfig(tmp_path: Path, settings: Settings, content: str) -> None:
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(content)
    settings.SPINWEB_KUBECONFIG = str(kubeconfig)

    errors = check_reference("kubernetes", "kubeconfig_context", "prod-context")

    assert list(errors) == ["credentials_ref"]
    assert "cannot be read" in errors["credentials_ref"]
    assert str(kubeconfig) in errors["credentials_ref"]


def test_it_reports_a_missing_kubeconfig(tmp_path: Path, settings: Settings) -> None:
    settings.SPINWEB_KUBECONFIG = str(tmp_path / "absent")

    errors = check_reference("kubernetes", "kubeconfig_context", "prod-context")

    assert "cannot be read" in errors["credentials_ref"]


@pytest.mark.parametrize(
    "current_context",
    ["", "current-context: deleted-context\n"],
    ids=["no-current-context", "stale-current-context"],
)
def test_it_finds_a_context_whatever_the_current_context(
    tmp_path: Path, settings: Settings, current_context: str
) -> None:
    """kubectl --context works without a usable current-context, so Spinweb must too."""
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(KUBECONFIG.replace("current-context: prod-context\n", current_context))
    settings.SPINWEB_KUBECONFIG = str(kubeconfig)

    assert check_reference("kubernetes", "kubeconfig_context", "prod-context") == {}


@pytest.mark.parametrize(
    ("provider", "kind"),
    [("local", "env"), ("local", "file"), ("kubernetes", "env"), ("kubernetes", "none"), ("aws", "kubeconfig_context")],
)
def test_it_refuses_a_kind_the_provider_does_not_take(provider: str, kind: str) -> None:
    errors = check_reference(provider, kind, "SOMETHING")

    assert list(errors) == ["credentials_kind"]
    assert provider in errors["credentials_kind"]


def test_it_refuses_an_unknown_provider() -> None:
    assert list(check_reference("gcp", "none", "")) == ["credentials_kind"]


def test_it_requires_a_reference_for_a_kind_that_needs_one() -> None:
    errors = check_reference("aws", "env", "")

    assert errors == {"credentials_ref": "A reference is required for credentials of kind env."}


def test_it_refuses_a_reference_with_kind_none() -> None:
    assert list(check_reference("aws", "none", "AWS_PROFILE_PROD")) == ["credentials_ref"]


def test_it_checks_for_secrets_before_anything_else() -> None:
    """A secret pasted with the wrong kind is still refused as a secret, never echoed elsewhere."""
    errors = check_reference("local", "env", "AKIAIOSFODNN7EXAMPLE")

    assert list(errors) == ["credentials_ref"]
    assert "looks like a secret value (an AWS access key id)" in errors["credentials_ref"]
    assert "AKIAIOSFODNN7EXAMPLE" not in errors["credentials_ref"]


def test_it_raises_a_validation_error_keyed_by_field() -> None:
    with pytest.raises(ValidationError) as caught:
        raise_for_reference("aws", "env", "ghp_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tV9wX1yZ3b5D")

    assert list(caught.value.message_dict) == ["credentials_ref"]


def test_it_does_not_raise_for_a_good_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_PROFILE_PROD", "prod")

    raise_for_reference("aws", "env", "AWS_PROFILE_PROD")
