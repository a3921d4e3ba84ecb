"""Policies read reference documents as data.<key> and the cloud accounts as data.spinweb.accounts;
a change to either reaches the next decision."""

from __future__ import annotations

import pytest

from clouds.models import Account
from policies import gate
from policies.actions import PolicyInvalid, delete_reference_data, save_reference_data
from policies.hooks import Hook, deployment_package
from policies.models import ReferenceData
from spinweb.models import AuditEvent, AuditSource
from tests.policies.conftest import MakePolicy

pytestmark = pytest.mark.django_db

DESTROY = deployment_package("destroyServerGroup")
SOURCE = f"""package {DESTROY}

import rego.v1

deny contains msg if {{
\tinput.deploy.account in data.production_accounts
\tmsg := sprintf("%s is listed in production_accounts", [input.deploy.account])
}}

deny contains msg if {{
\tdata.spinweb.accounts[input.deploy.account].environment == "prod"
\tmsg := sprintf("%s is a prod account", [input.deploy.account])
}}
"""


def destroy(account: str) -> list[str]:
    document = {"deploy": {"operation": "destroyServerGroup", "account": account}, "user": {"username": "ops"}}
    return [v.message for v in gate.decide(Hook.DEPLOYMENT, DESTROY, document).violations]


def test_it_reads_reference_data_as_data_key(make_policy: MakePolicy) -> None:
    make_policy(SOURCE, name="protect-prod")
    assert destroy("payments") == []
    save_reference_data(None, key="production_accounts", document=["payments"], source_label=AuditSource.UI)
    assert destroy("payments") == ["payments is listed in production_accounts"]
    item = ReferenceData.objects.get(key="production_accounts")
    save_reference_data(None, key="production_accounts", document=["other"], source_label=AuditSource.UI)
    assert destroy("payments") == []
    assert ReferenceData.objects.get().version == 2
    delete_reference_data(None, item, source_label=AuditSource.UI)
    assert not ReferenceData.objects.exists()
    assert list(AuditEvent.objects.filter(object_type="policies.referencedata").values_list("action", flat=True)) == [
        "delete",
        "update",
        "create",
    ]


def test_it_reads_accounts_as_data_spinweb_accounts(make_policy: MakePolicy) -> None:
    make_policy(SOURCE, name="protect-prod")
    account = Account.objects.create(name="prod-east", environment="staging", regions=["local"])
    assert destroy("prod-east") == []
    account.environment = "prod"
    account.save()
    assert destroy("prod-east") == ["prod-east is a prod account"]
    account.delete()
    assert destroy("prod-east") == []


@pytest.mark.parametrize(
    ("key", "sentence"),
    [
        ("spinweb", "The key 'spinweb' is reserved; pick another name."),
        ("bad-key", "The key must be a Rego name"),
        ("", "The key must be a Rego name"),
    ],
)
def test_it_refuses_reserved_or_invalid_keys(key: str, sentence: str) -> None:
    with pytest.raises(PolicyInvalid) as refused:
        save_reference_data(None, key=key, document={}, source_label=AuditSource.API)
    assert refused.value.issues[0][0] == "key"
    assert refused.value.issues[0][1].startswith(sentence)
    assert not ReferenceData.objects.exists()


def test_it_refuses_a_document_that_is_not_json() -> None:
    with pytest.raises(PolicyInvalid) as refused:
        save_reference_data(None, key="limits", document={"x": float("nan")}, source_label=AuditSource.API)
    assert [field for field, _ in refused.value.issues] == ["document"]
