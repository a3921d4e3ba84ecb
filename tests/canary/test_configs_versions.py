"""Saving canary configs: validated, versioned, audited, nothing half-saved."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from applications.models import Application
from canary import actions
from canary.models import CanaryConfig
from spinweb.actions import Conflict
from spinweb.models import AuditEvent
from tests.canary.config_samples import KAYENTA_ID, sample


def test_it_keeps_kayentas_id_and_syncs_the_head(developer: User, shop: Application) -> None:
    config = actions.save_config(developer, sample(applications=["shop", "other"]), source="api")
    assert str(config.pk) == KAYENTA_ID
    assert (config.application, config.name, config.version) == (shop, "web-latency", 1)
    assert config.description == "Latency and errors of the web tier"
    assert config.document["applications"] == ["shop", "other"]
    assert config.document["metrics"][1]["query"] == {"type": "builtin", "metricName": "latency_p99"}
    assert AuditEvent.objects.get(object_id=KAYENTA_ID).action == "create"


def test_it_keeps_a_version_per_save_and_restores_as_a_new_one(developer: User, shop: Application) -> None:
    config = actions.save_config(developer, sample(), source="api")
    changed = sample(name="web-slo", description="renamed")
    config = actions.save_config(developer, changed, source="ui", config=config)
    assert (config.name, config.version, config.document["name"]) == ("web-slo", 2, "web-slo")
    restored = actions.restore_config_version(developer, config, 1, source="api")
    assert restored.version == 3
    assert restored.name == "web-slo"
    assert restored.description == "Latency and errors of the web tier"
    assert list(restored.versions.values_list("version", flat=True)) == [3, 2, 1]
    assert [e.action for e in AuditEvent.objects.filter(object_id=str(config.pk)).order_by("pk")] == [
        "create",
        "update",
        "update",
    ]


def test_it_writes_nothing_when_the_document_is_bad(developer: User, shop: Application) -> None:
    document = sample()
    document["metrics"][0]["query"]["type"] = "graphite"
    with pytest.raises(actions.ConfigInvalid) as caught:
        actions.save_config(developer, document, source="api")
    assert [issue.path for issue in caught.value.issues] == ["metrics[0].query.type"]
    assert not CanaryConfig.objects.exists()
    assert not AuditEvent.objects.exists()


def test_it_refuses_a_second_config_of_the_same_name(developer: User, shop: Application) -> None:
    actions.save_config(developer, sample(), source="api")
    with pytest.raises(actions.ConfigInvalid) as caught:
        actions.save_config(developer, sample(id=None), source="api")
    assert str(caught.value.issues[0]) == "name: shop already has a canary config named 'web-latency'."


def test_it_refuses_applications_the_user_cannot_see(outsider: User, shop: Application) -> None:
    with pytest.raises(actions.ConfigInvalid) as caught:
        actions.save_config(outsider, sample(), source="api")
    assert str(caught.value.issues[0]) == "applications[0]: There is no application named 'shop'."


def test_it_keeps_a_config_in_its_application(developer: User, shop: Application, blog: Application) -> None:
    config = actions.save_config(developer, sample(), source="api")
    with pytest.raises(actions.ConfigInvalid) as caught:
        actions.save_config(None, sample(applications=["blog"]), source="api", config=config)
    assert str(caught.value.issues[0]) == "applications[0]: This config belongs to shop; keep it first."


def test_it_imports_by_name(developer: User, shop: Application) -> None:
    first, created = actions.import_config(developer, sample(id=None), source="api")
    again, created_again = actions.import_config(developer, sample(description="v2"), source="api")
    assert (created, created_again) == (True, False)
    assert again.pk == first.pk
    assert (again.version, again.description) == (2, "v2")


def test_it_drops_server_keys_from_saved_documents(developer: User, shop: Application) -> None:
    config = actions.save_config(developer, sample(version=9, updatedTimestamp=1, updatedBy="x"), source="api")
    assert config.version == 1
    assert not {"version", "updatedTimestamp", "updatedBy"} & set(config.document)


def test_it_deletes_with_its_versions_and_an_audit_event(developer: User, shop: Application) -> None:
    config = actions.save_config(developer, sample(), source="api")
    actions.delete_config(developer, config, source="ui")
    assert not CanaryConfig.objects.exists()
    assert AuditEvent.objects.filter(action="delete", object_id=KAYENTA_ID).exists()


def test_it_refuses_to_restore_a_missing_version(developer: User, shop: Application) -> None:
    config = actions.save_config(developer, sample(), source="api")
    with pytest.raises(Conflict, match=r"web-latency has no version 7\."):
        actions.restore_config_version(developer, config, 7, source="api")
