"""Canary runs, judgments and replays in the admin: shown with their evidence, never edited."""

from __future__ import annotations

from django.contrib.auth.models import User

from applications.models import Application
from canary import actions
from tests.canary.run_samples import save_configs, shop_run
from tests.conftest import browser_as


def test_it_lists_runs_and_shows_their_intervals_read_only(admin: User, shop: Application) -> None:
    run = shop_run(shop, save_configs(admin)[0])
    client = browser_as(admin)
    listed = client.get("/admin/canary/canaryrun/", {"state__exact": "FAILED"}).content.decode()
    assert str(run.pk) in listed
    assert client.get("/admin/canary/canaryrun/", {"state__exact": "RUNNING"}).content.decode().count(str(run.pk)) == 0
    page = client.get(f"/admin/canary/canaryrun/{run.pk}/change/").content.decode()
    assert "Canary Failed: critical metric" in page
    assert 'name="_save"' not in page
    assert client.get("/admin/canary/canaryrun/add/").status_code == 403


def test_it_shows_a_judgment_with_its_result_and_replays(admin: User, shop: Application) -> None:
    config, strict = save_configs(admin)
    judgment = shop_run(shop, config).judgments.get(index=1)
    actions.replay_interval(
        admin,
        judgment,
        config_document=strict.document,
        thresholds=None,
        label="web-latency-strict v1",
        source="admin",
    )
    page = browser_as(admin).get(f"/admin/canary/canaryjudgment/{judgment.pk}/change/").content.decode()
    assert "&quot;groupScores&quot;" in page
    assert "web-latency-strict v1" in page
    assert "Marginal" in page
    replays = browser_as(admin).get("/admin/canary/canaryreplay/").content.decode()
    assert "web-latency-strict v1" in replays
