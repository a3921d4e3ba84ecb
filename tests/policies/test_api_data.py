"""/api/v1/policy-data/: JSON documents by key, reserved keys refused, audited."""

from __future__ import annotations

from django.contrib.auth.models import User

from policies.models import ReferenceData
from spinweb.models import AuditEvent
from tests.conftest import api_as, message_for


def test_it_creates_updates_and_deletes_a_document(admin: User) -> None:
    client = api_as(admin)
    created = client.post("/api/v1/policy-data/", {"key": "images", "document": {"ok": ["shop:1"]}}, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["version"] == 1
    updated = client.put("/api/v1/policy-data/images/", {"document": ["x"], "description": "Approved"}, format="json")
    assert updated.status_code == 200, updated.json()
    assert (updated.json()["document"], updated.json()["version"]) == (["x"], 2)
    patched = client.patch("/api/v1/policy-data/images/", {"description": "Only"}, format="json")
    assert (patched.json()["document"], patched.json()["description"]) == (["x"], "Only")
    assert client.delete("/api/v1/policy-data/images/").status_code == 204
    assert not ReferenceData.objects.exists()
    assert AuditEvent.objects.filter(object_type="policies.referencedata", source="api").count() == 4


def test_it_refuses_reserved_taken_and_renamed_keys(admin: User) -> None:
    client = api_as(admin)
    reserved = client.post("/api/v1/policy-data/", {"key": "spinweb", "document": {}}, format="json")
    assert reserved.status_code == 400
    assert message_for(reserved.json(), "key") == "The key 'spinweb' is reserved; pick another name."
    client.post("/api/v1/policy-data/", {"key": "images", "document": {}}, format="json")
    taken = client.post("/api/v1/policy-data/", {"key": "images", "document": []}, format="json")
    assert taken.status_code == 400
    assert "already exists" in message_for(taken.json(), "key")
    renamed = client.put("/api/v1/policy-data/images/", {"key": "other", "document": []}, format="json")
    assert renamed.status_code == 400
    assert message_for(renamed.json(), "key") == "A document's key cannot change; create a new one instead."
    assert ReferenceData.objects.get().document == {}
