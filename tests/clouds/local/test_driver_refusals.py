"""What the local provider refuses before it runs anything: a pipeline cannot choose the command."""

from __future__ import annotations

import pytest

from applications.models import Application
from clouds.models import Account, ProviderOperation
from clouds.providers.base import ArtifactRef, Capacity, PermanentProviderError, provider_for
from tests.clouds.local.conftest import LocalHome
from tests.clouds.local.fixtures import local_account, local_home, local_runtime, sample_spec

__all__ = ["local_account", "local_home", "local_runtime"]


def refusal(target: Account, **fields: object) -> str:
    with pytest.raises(PermanentProviderError) as caught:
        provider_for(target).create_server_group(sample_spec(**fields), idempotency_key="deploy")
    return caught.value.message


def assert_nothing_ran(local_runtime: LocalHome) -> None:
    assert not ProviderOperation.objects.exists()
    assert not (local_runtime.path / "control.sock").exists()


def test_it_refuses_an_artifact_the_account_does_not_declare(
    shop: Application, local_account: Account, local_runtime: LocalHome
) -> None:
    message = refusal(local_account, artifact=ArtifactRef("bash", "1"))

    assert message == "Account 'local' has no artifact 'bash' (it has: sample)."
    assert_nothing_ran(local_runtime)


@pytest.mark.parametrize("names", [["LD_PRELOAD"], ["PATH", "SAMPLE_LATENCY_MS"], ["SPINWEB_ACCOUNT"]])
def test_it_refuses_environment_the_artifact_does_not_allow(
    shop: Application, local_account: Account, local_runtime: LocalHome, names: list[str]
) -> None:
    message = refusal(local_account, environment={name: "1" for name in names})

    refused = ", ".join(sorted(name for name in names if name != "SAMPLE_LATENCY_MS"))
    assert message == (
        f"Artifact 'sample' does not allow setting {refused} "
        "(it allows: SAMPLE_ERROR_RATE, SAMPLE_FAIL_HEALTH, SAMPLE_LATENCY_MS)."
    )
    assert_nothing_ran(local_runtime)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"artifact": ArtifactRef("sample", "v1 --evil")}, "Artifact version 'v1 --evil' must be"),
        ({"capacity": Capacity(0, 80, 60)}, "A local server group runs at most 50 instances."),
        ({"capacity": Capacity(2, 1, 1)}, "min <= desired <= max"),
        ({"region": "eu"}, "Account 'local' has no region 'eu'"),
        ({"account": "prod"}, "The spec is for account 'prod'"),
        ({"application": "blog"}, "There is no application 'blog'."),
        ({"load_balancers": ["blog-web"]}, "Load balancer 'blog-web' must be named"),
        ({"stack": "we b"}, "Stack 'we b' may contain only"),
    ],
)
def test_it_refuses_a_bad_spec_with_a_message(
    shop: Application, local_account: Account, local_runtime: LocalHome, fields: dict[str, object], expected: str
) -> None:
    assert expected in refusal(local_account, **fields)
    assert_nothing_ran(local_runtime)


def test_it_refuses_to_touch_a_group_it_does_not_have(shop: Application, local_account: Account) -> None:
    with pytest.raises(PermanentProviderError, match="Account 'local' has no server group 'shop-web-v003' in 'local'"):
        provider_for(local_account).enable("shop-web-v003", "local", idempotency_key="enable")


def test_it_keeps_groups_of_another_local_account_apart(shop: Application, local_account: Account) -> None:
    other = Account.objects.create(
        name="laptop", provider="local", regions=["local"], artifacts=local_account.artifacts
    )
    provider_for(local_account).create_server_group(sample_spec(), idempotency_key="deploy")

    created = provider_for(other).create_server_group(
        sample_spec(account="laptop", load_balancers=[]), idempotency_key="deploy"
    )

    assert created.name == "shop-web-v001"
    assert [g.name for g in provider_for(other).server_groups("shop-web", "local")] == ["shop-web-v001"]
    with pytest.raises(PermanentProviderError, match="has no server group 'shop-web-v000'"):
        provider_for(other).destroy("shop-web-v000", "local", idempotency_key="destroy")
    with pytest.raises(PermanentProviderError, match="'shop-web' already belongs to account 'local'"):
        provider_for(other).create_server_group(sample_spec(account="laptop"), idempotency_key="deploy-lb")
    assert [g.name for g in provider_for(local_account).server_groups("shop-web", "local")] == ["shop-web-v000"]
    assert [g.name for g in provider_for(other).server_groups("shop-web", "local")] == ["shop-web-v001"]
