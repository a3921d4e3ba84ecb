"""The pipeline page's policy dry run: READ on the application, a table of every gate, admins simulate."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User

from applications.models import Application
from pipelines import actions
from pipelines.models import Pipeline
from policies.models import PolicyDecision
from tests.conftest import browser_as
from tests.policies.conftest import MakePolicy, deny_source
from tests.policies.test_pages_policies import text

WAIT = "spinnaker.execution.stages.before.wait"


def make_release(developer: User) -> Pipeline:
    document = {
        "application": "shop",
        "name": "release",
        "parameterConfig": [
            {"name": "env", "required": True, "hasOptions": True, "options": [{"value": "dev"}, {"value": "prod"}]}
        ],
        "stages": [
            {"refId": "1", "type": "wait", "name": "Soak", "waitTime": 7200, "requisiteStageRefIds": []},
            {"refId": "2", "type": "wait", "name": "Settle", "waitTime": 5, "requisiteStageRefIds": ["1"]},
        ],
    }
    return actions.save_pipeline(developer, document, source="api")


def add_long_wait_policies(make_policy: MakePolicy) -> None:
    make_policy(deny_source(WAIT, "Waits over an hour are not allowed.", "input.stage.context.waitTime > 3600"))
    make_policy(
        deny_source(WAIT, "Only shop-devs wait.", 'not "shop-devs" in {r | some r in input.user.roles}'),
        name="devs-only",
        mode="warn",
    )


@pytest.fixture
def release(shop: Application, developer: User) -> Pipeline:
    return make_release(developer)


@pytest.fixture
def long_waits(make_policy: MakePolicy) -> None:
    add_long_wait_policies(make_policy)


def url(pipeline: Pipeline) -> str:
    return f"/applications/shop/pipelines/{pipeline.pk}/dryrun/"


def test_it_links_the_dry_run_from_the_pipeline_page(viewer: User, release: Pipeline) -> None:
    assert f'href="{url(release)}"' in text(browser_as(viewer).get("/applications/shop/pipelines/"))


def test_it_shows_every_stage_with_its_outcome_and_messages(viewer: User, release: Pipeline, long_waits: None) -> None:
    client = browser_as(viewer)
    form = text(client.get(url(release)))
    assert 'name="param-env"' in form
    assert 'name="user"' not in form  # only admins simulate
    page = text(client.post(url(release), {"param-env": "prod"}))
    soak = re.search(r'<tr class="dryrun-denied" data-ref="1">.*?</tr>', page, re.S)
    assert soak is not None
    assert "Soak" in soak.group(0)
    assert "Denied by policy policy-" in soak.group(0)
    assert "Waits over an hour are not allowed." in soak.group(0)
    assert "Policy devs-only (warn only): Only shop-devs wait." in soak.group(0)
    settle = re.search(r'<tr class="dryrun-warned" data-ref="2">.*?</tr>', page, re.S)
    assert settle is not None
    assert "Execution: not covered" in page
    assert "<code>env=prod</code>" in page
    assert PolicyDecision.objects.filter(dry_run=True).count() == 2
    assert not PolicyDecision.objects.filter(dry_run=False).exists()


def test_it_reports_a_refused_parameter_beside_it(viewer: User, release: Pipeline) -> None:
    page = text(browser_as(viewer).post(url(release), {"param-env": "staging"}))
    assert (
        "env must be one of dev, prod, not &#x27;staging&#x27;." in page
        or "env must be one of dev, prod, not 'staging'." in page
    )
    assert 'id="dryrun-report"' not in page


def test_it_lets_admins_simulate_another_user(
    admin: User, developer: User, release: Pipeline, long_waits: None
) -> None:
    as_admin = text(browser_as(admin).post(url(release), {"param-env": "dev"}))
    assert "As admin" in as_admin
    assert "Only shop-devs wait." in as_admin
    page = text(browser_as(admin).post(url(release), {"param-env": "dev", "user": "developer"}))
    assert "As developer" in page
    assert "Only shop-devs wait." not in page  # developer is in shop-devs; the admin is not
    missing = text(browser_as(admin).post(url(release), {"param-env": "dev", "user": "ghost"}))
    assert "There is no user named 'ghost'." in missing


def test_it_refuses_simulation_to_non_admins_and_the_page_to_outsiders(
    viewer: User, outsider: User, release: Pipeline
) -> None:
    assert browser_as(viewer).post(url(release), {"param-env": "dev", "user": "admin"}).status_code == 403
    assert browser_as(outsider).get(url(release)).status_code == 404
    assert browser_as(outsider).post(url(release), {"param-env": "dev"}).status_code == 404
