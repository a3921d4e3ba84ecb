"""Canary configs in the admin: edited as JSON, saved through the actions."""

from __future__ import annotations

import json

from django.contrib.auth.models import User

from applications.models import Application
from canary import actions
from canary.models import CanaryConfig, CanaryConfigVersion
from spinweb.models import AuditEvent
from tests.canary.config_samples import KAYENTA_ID, sample
from tests.conftest import browser_as

ADD = "/admin/canary/canaryconfig/add/"
INLINE = {"versions-TOTAL_FORMS": "0", "versions-INITIAL_FORMS": "0", "_save": "Save"}


def test_it_adds_a_config_as_a_first_version(admin: User, shop: Application) -> None:
    response = browser_as(admin).post(ADD, {"document": json.dumps(sample())} | INLINE)
    assert response.status_code == 302, response.content.decode()
    config = CanaryConfig.objects.get()
    assert (str(config.pk), config.version, config.updated_by) == (KAYENTA_ID, 1, admin)
    assert AuditEvent.objects.get(object_id=KAYENTA_ID).source == "admin"


def test_it_shows_each_problem_with_its_path(admin: User, shop: Application) -> None:
    document = sample()
    document["metrics"][0]["query"]["type"] = "atlas"
    response = browser_as(admin).post(ADD, {"document": json.dumps(document)} | INLINE)
    assert response.status_code == 200
    assert "metrics[0].query.type: &#x27;atlas&#x27; is not a known metric source" in response.content.decode()
    assert not CanaryConfig.objects.exists()


def test_it_saves_a_change_as_a_new_version(admin: User, shop: Application) -> None:
    actions.save_config(admin, sample(), source="api")
    url = f"/admin/canary/canaryconfig/{KAYENTA_ID}/change/"
    response = browser_as(admin).post(url, {"document": json.dumps(sample(description="edited"))} | INLINE)
    assert response.status_code == 302, response.content.decode()
    config = CanaryConfig.objects.get()
    assert (config.version, config.description) == (2, "edited")


def test_it_restores_a_version(admin: User, shop: Application) -> None:
    config = actions.save_config(admin, sample(), source="api")
    actions.save_config(admin, sample(description="edited"), source="api", config=config)
    first = CanaryConfigVersion.objects.get(version=1)
    data = {"action": "restore", "_selected_action": [first.pk]}
    browser_as(admin).post("/admin/canary/canaryconfigversion/", data)
    config.refresh_from_db()
    assert (config.version, config.description) == (3, "Latency and errors of the web tier")
