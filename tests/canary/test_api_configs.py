"""/api/v1/canary-configs/: Kayenta JSON in and out, READ to see, WRITE to change."""

from __future__ import annotations

import json

from django.contrib.auth.models import User

from applications.models import Application
from canary.models import CanaryConfig
from tests.canary.config_samples import KAYENTA_ID, sample
from tests.conftest import api_as

URL = "/api/v1/canary-configs/"


def test_it_creates_lists_and_shows_configs(developer: User, viewer: User, shop: Application) -> None:
    created = api_as(developer).post(URL, sample(), format="json")
    assert created.status_code == 201, created.content
    assert created.json()["id"] == KAYENTA_ID
    assert created.json()["version"] == 1
    assert created.json()["updatedBy"] == "developer"
    listed = api_as(viewer).get(URL, {"application": "shop"}).json()
    assert [row["name"] for row in listed["results"]] == ["web-latency"]
    shown = api_as(viewer).get(f"{URL}{KAYENTA_ID}/").json()
    assert shown["metrics"][0]["query"]["customFilterTemplate"] == "web"


def test_it_answers_every_problem_with_its_path(developer: User, shop: Application) -> None:
    document = sample(classifier={"groupWeights": {"errors": "sixty", "latency": 40}})
    del document["metrics"][0]["scopeName"]
    response = api_as(developer).post(URL, document, format="json")
    assert response.status_code == 400
    fields = {error["field"] for error in response.json()["errors"]}
    assert fields == {"metrics[0].scopeName", "classifier.groupWeights.errors"}
    assert response.json()["detail"].startswith("Invalid canary config. metrics[0].scopeName: is required")
    assert not CanaryConfig.objects.exists()


def test_it_updates_and_keeps_versions(developer: User, shop: Application) -> None:
    api_as(developer).post(URL, sample(), format="json")
    document = sample(description="tighter")
    del document["applications"]  # the config's application is implied
    updated = api_as(developer).put(f"{URL}{KAYENTA_ID}/", document, format="json")
    assert updated.status_code == 200, updated.content
    assert (updated.json()["version"], updated.json()["description"]) == (2, "tighter")
    versions = api_as(developer).get(f"{URL}{KAYENTA_ID}/versions/").json()
    assert [row["version"] for row in versions] == [2, 1]
    diff = api_as(developer).get(f"{URL}{KAYENTA_ID}/diff/", {"from": 1, "to": 2}).json()["diff"]
    assert '-  "description": "Latency and errors of the web tier",' in diff
    assert '+  "description": "tighter",' in diff
    restored = api_as(developer).post(f"{URL}{KAYENTA_ID}/restore/", {"version": 1}, format="json")
    assert (restored.json()["version"], restored.json()["description"]) == (3, "Latency and errors of the web tier")


def test_it_exports_what_imports_back(developer: User, shop: Application) -> None:
    api_as(developer).post(URL, sample(), format="json")
    exported = api_as(developer).get(f"{URL}{KAYENTA_ID}/export/")
    assert exported.status_code == 200
    assert 'filename="shop-web-latency.json"' in exported["Content-Disposition"]
    document = json.loads(exported.content)
    assert document["id"] == KAYENTA_ID
    assert "version" not in document
    assert document["classifier"] == {"groupWeights": {"errors": 60, "latency": 40}}
    document["description"] = "imported again"
    imported = api_as(developer).post(f"{URL}import/", document, format="json")
    assert imported.status_code == 200, imported.content
    assert (imported.json()["id"], imported.json()["version"]) == (KAYENTA_ID, 2)


def test_it_imports_a_new_config_by_name(developer: User, shop: Application) -> None:
    response = api_as(developer).post(f"{URL}import/", sample(id=None, name="fresh"), format="json")
    assert response.status_code == 201
    assert CanaryConfig.objects.get().name == "fresh"


def test_it_refuses_changes_without_write(viewer: User, outsider: User, developer: User, shop: Application) -> None:
    assert api_as(viewer).post(URL, sample(), format="json").status_code == 403
    assert api_as(viewer).post(f"{URL}import/", sample(), format="json").status_code == 403
    api_as(developer).post(URL, sample(), format="json")
    assert api_as(viewer).put(f"{URL}{KAYENTA_ID}/", sample(), format="json").status_code == 403
    assert api_as(viewer).delete(f"{URL}{KAYENTA_ID}/").status_code == 403
    assert api_as(outsider).get(f"{URL}{KAYENTA_ID}/").status_code == 404
    assert api_as(outsider).get(URL).json()["results"] == []
    assert CanaryConfig.objects.get().version == 1


def test_it_validates_without_saving(developer: User, shop: Application) -> None:
    document = sample()
    document["metrics"][1]["query"]["type"] = "stackdriver"
    body = api_as(developer).post(f"{URL}validate/", document, format="json").json()
    assert body["valid"] is False
    assert [error["field"] for error in body["errors"]] == ["metrics[1].query.type"]
    assert not CanaryConfig.objects.exists()


def test_it_deletes(developer: User, shop: Application) -> None:
    api_as(developer).post(URL, sample(), format="json")
    assert api_as(developer).delete(f"{URL}{KAYENTA_ID}/").status_code == 204
    assert not CanaryConfig.objects.exists()
