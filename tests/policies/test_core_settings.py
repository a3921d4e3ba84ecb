"""Policy settings are read from the environment and a bad value stops start-up with a sentence."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from spinweb import env


def test_it_reads_fail_open_hooks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPINWEB_POLICY_FAIL_OPEN", " Authz, stage ,stage")
    assert env.policy_hooks("SPINWEB_POLICY_FAIL_OPEN") == ["stage", "authz"]


def test_it_refuses_an_unknown_hook_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPINWEB_POLICY_FAIL_OPEN", "stage,deploy")
    with pytest.raises(ImproperlyConfigured) as refused:
        env.policy_hooks("SPINWEB_POLICY_FAIL_OPEN")
    assert str(refused.value) == (
        "SPINWEB_POLICY_FAIL_OPEN may only name the hooks save, execution, stage, task, deployment, authz, "
        "not 'deploy'."
    )


def test_it_checks_the_opa_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPA_URL", "http://127.0.0.1:8181/v1/")
    assert env.opa_url() == "http://127.0.0.1:8181/v1"
    monkeypatch.setenv("OPA_URL", "127.0.0.1:8181")
    with pytest.raises(ImproperlyConfigured, match=r"OPA_URL must look like http://127\.0\.0\.1:8181"):
        env.opa_url()


def test_it_wants_authz_exemptions_to_be_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPINWEB_POLICY_AUTHZ_EXEMPT", "/metrics,/status/")
    assert env.path_prefixes("SPINWEB_POLICY_AUTHZ_EXEMPT") == ["/metrics", "/status/"]
    monkeypatch.setenv("SPINWEB_POLICY_AUTHZ_EXEMPT", "metrics")
    with pytest.raises(ImproperlyConfigured, match=r"must list URL paths starting with '/'"):
        env.path_prefixes("SPINWEB_POLICY_AUTHZ_EXEMPT")
