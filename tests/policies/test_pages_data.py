"""Reference data pages: JSON documents with bad JSON named by line and column, delete confirmed."""

from __future__ import annotations

from django.contrib.auth.models import User

from policies.models import ReferenceData
from spinweb.models import AuditEvent
from tests.conftest import browser_as
from tests.policies.test_pages_policies import text


def test_it_creates_lists_and_edits_a_document(admin: User) -> None:
    client = browser_as(admin)
    created = client.post("/policies/data/new/", {"key": "prod_accounts", "document": '["prod-east"]'})
    assert created.status_code == 302
    assert ReferenceData.objects.get(key="prod_accounts").document == ["prod-east"]
    listing = text(client.get("/policies/data/"))
    assert "data.prod_accounts" in listing
    edited = client.post(
        "/policies/data/prod_accounts/edit/", {"key": "ignored", "description": "Prod", "document": '["a", "b"]'}
    )
    assert edited.status_code == 302
    item = ReferenceData.objects.get(key="prod_accounts")
    assert (item.document, item.description, item.version) == (["a", "b"], "Prod", 2)
    assert AuditEvent.objects.filter(object_type="policies.referencedata", source="ui").count() == 2


def test_it_names_the_line_and_column_of_bad_json(admin: User) -> None:
    response = browser_as(admin).post("/policies/data/new/", {"key": "images", "document": '{\n  "a": 1,\n  "b"\n}'})
    assert response.status_code == 400
    assert "The document is not JSON: line 4, column 1: Expecting ':' delimiter." in text(response)
    assert not ReferenceData.objects.exists()


def test_it_refuses_a_reserved_or_taken_key(admin: User) -> None:
    client = browser_as(admin)
    reserved = client.post("/policies/data/new/", {"key": "spinweb", "document": "{}"})
    assert reserved.status_code == 400
    assert "The key &#x27;spinweb&#x27; is reserved; pick another name." in reserved.content.decode()
    client.post("/policies/data/new/", {"key": "images", "document": "{}"})
    taken = client.post("/policies/data/new/", {"key": "images", "document": "[1]"})
    assert taken.status_code == 400
    assert "data.images already exists; edit it instead." in text(taken)
    assert ReferenceData.objects.get(key="images").document == {}


def test_it_deletes_only_with_the_key_typed(admin: User) -> None:
    client = browser_as(admin)
    client.post("/policies/data/new/", {"key": "images", "document": "{}"})
    assert client.post("/policies/data/images/delete/", {"confirm": "image"}).status_code == 400
    assert ReferenceData.objects.filter(key="images").exists()
    assert client.post("/policies/data/images/delete/", {"confirm": "images"}).status_code == 302
    assert not ReferenceData.objects.filter(key="images").exists()
