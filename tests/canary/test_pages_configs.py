"""Canary-config pages: list, JSON editor with problems at their path and line, versions, delete."""

from __future__ import annotations

import json

from django.contrib.auth.models import User

from applications.models import Application
from canary import actions
from canary.models import CanaryConfig
from tests.canary.config_samples import KAYENTA_ID, sample
from tests.conftest import browser_as

BASE = "/applications/shop/canary-configs/"
ONE = f"{BASE}{KAYENTA_ID}/"


def test_it_lists_configs_to_readers(viewer: User, developer: User, shop: Application) -> None:
    actions.save_config(developer, sample(), source="api")
    page = browser_as(viewer).get(BASE).content.decode()
    assert "web-latency" in page
    assert "Latency and errors of the web tier" in page
    assert "New canary config" not in page
    assert f'href="{ONE}export/"' in page


def test_it_creates_a_config_from_pasted_kayenta_json(developer: User, shop: Application) -> None:
    assert browser_as(developer).get(f"{BASE}new/").status_code == 200
    response = browser_as(developer).post(f"{BASE}new/", {"document": json.dumps(sample(), indent=2)})
    config = CanaryConfig.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"{BASE}{config.pk}/edit/"
    assert config.pk != KAYENTA_ID  # a pasted id does not take over another config


def test_it_shows_problems_at_their_path_and_line(developer: User, shop: Application) -> None:
    document = sample()
    document["metrics"][1]["query"]["type"] = "atlas"
    text = json.dumps(document, indent=2)
    line = text.splitlines().index('        "type": "atlas",') + 1
    response = browser_as(developer).post(f"{BASE}new/", {"document": text})
    page = response.content.decode()
    assert response.status_code == 400
    assert f'data-line="{line}" data-path="metrics[1].query.type"' in page
    assert "is not a known metric source" in page
    assert not CanaryConfig.objects.exists()


def test_it_shows_bad_json_at_its_line_and_column(developer: User, shop: Application) -> None:
    response = browser_as(developer).post(f"{BASE}new/validate/", {"document": '{\n  "name": "x",\n  oops\n}'})
    assert (
        "line 3</a> · Line 3, column 3: Expecting property name enclosed in double quotes." in response.content.decode()
    )


def test_it_saves_edits_as_versions_diffs_and_restores(developer: User, shop: Application) -> None:
    actions.save_config(developer, sample(), source="api")
    client = browser_as(developer)
    client.post(f"{ONE}edit/", {"document": json.dumps(sample(description="tighter"))})
    assert CanaryConfig.objects.get().version == 2
    diff = client.get(f"{ONE}versions/2/").content.decode()
    assert '<span class="diff-added">+  &quot;description&quot;: &quot;tighter&quot;,</span>' in diff
    client.post(f"{ONE}versions/1/restore/", {"confirm": "yes"})
    config = CanaryConfig.objects.get()
    assert (config.version, config.description) == (3, "Latency and errors of the web tier")
    assert "Restored version 1 as version 3." in client.get(f"{ONE}versions/").content.decode()


def test_it_shows_readers_a_read_only_editor(viewer: User, developer: User, shop: Application) -> None:
    actions.save_config(developer, sample(), source="api")
    page = browser_as(viewer).get(f"{ONE}edit/").content.decode()
    assert "needs WRITE permission on shop" in page
    assert " readonly" in page
    assert browser_as(viewer).post(f"{ONE}edit/", {"document": json.dumps(sample())}).status_code == 403


def test_it_deletes_only_with_the_typed_name(developer: User, shop: Application) -> None:
    actions.save_config(developer, sample(), source="api")
    client = browser_as(developer)
    assert client.post(f"{ONE}delete/", {"confirm": "web"}).status_code == 400
    assert client.post(f"{ONE}delete/", {"confirm": "web-latency"}).status_code == 302
    assert not CanaryConfig.objects.exists()


def test_it_exports_the_kayenta_json(developer: User, shop: Application) -> None:
    actions.save_config(developer, sample(), source="api")
    response = browser_as(developer).get(f"{ONE}export/")
    assert json.loads(response.content)["metrics"] == sample()["metrics"]
    assert 'filename="shop-web-latency.json"' in response["Content-Disposition"]
