"""Which driver serves an account: the local one today, a clear refusal for the others."""

from __future__ import annotations

import pytest

from clouds.models import Account
from clouds.providers.base import PermanentProviderError, provider_for, refresh
from clouds.providers.local.driver import LocalProvider


@pytest.mark.parametrize(("kind", "region"), [("kubernetes", "shop"), ("aws", "us-east-1")])
def test_it_refuses_accounts_without_a_driver_yet(db: None, kind: str, region: str) -> None:
    account = Account.objects.create(name=f"{kind}-prod", provider=kind, regions=[region])

    with pytest.raises(PermanentProviderError) as caught:
        provider_for(account)

    assert caught.value.message == (
        f"Account '{kind}-prod' is a {kind} account and Spinweb has no {kind} driver yet; "
        "only local accounts can be deployed to."
    )


def test_it_refreshes_nothing_for_accounts_without_a_driver(db: None) -> None:
    account = Account.objects.create(name="aws-prod", provider="aws", regions=["us-east-1"])

    refresh(account)


def test_it_serves_local_accounts_with_the_local_driver(local_account: Account) -> None:
    provider = provider_for(local_account)

    assert isinstance(provider, LocalProvider)
    assert provider.account == local_account
