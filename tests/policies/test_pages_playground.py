"""The playground: an example input per hook, the enabled policies' decision, an unsaved source."""

from __future__ import annotations

import json

from django.contrib.auth.models import User

from policies.hooks import INPUT_SCHEMA
from policies.models import PolicyDecision
from tests.conftest import browser_as
from tests.policies.conftest import MakePolicy, deny_source
from tests.policies.test_pages_policies import text

STAGE = "spinnaker.execution.stages.before.deployManifest"
PROD = 'input.stage.context.account == "prod"'


def test_it_prefills_an_example_input_for_the_chosen_hook(admin: User) -> None:
    client = browser_as(admin)
    page = text(client.get("/policies/playground/"))
    assert '"pipeline": {' in page
    example = text(client.get("/policies/playground/example/", {"hook": "deployment", "suffix": "destroyServerGroup"}))
    document = json.loads(example.split(">", 1)[1].rsplit("</textarea>", 1)[0])
    assert document["deploy"]["operation"] == "destroyServerGroup"
    assert document["meta"]["package"] == "spinnaker.deployment.tasks.before.destroyServerGroup"
    assert document["meta"]["schema"] == INPUT_SCHEMA
    assert set(document["user"]) == {"username", "isAdmin", "roles"}


def test_it_shows_each_message_with_the_policy_that_produced_it(admin: User, make_policy: MakePolicy) -> None:
    make_policy(deny_source(STAGE, "No manifests to prod.", PROD), name="prod-guard")
    make_policy(deny_source(STAGE, "Think twice.", PROD), name="nagger", mode="warn")
    client = browser_as(admin)
    document = json.loads(
        text(client.get("/policies/playground/example/", {"hook": "stage"}))
        .split(">", 1)[1]
        .rsplit("</textarea>", 1)[0]
    )
    response = client.post(
        "/policies/playground/", {"hook": "stage", "suffix": "deployManifest", "input": json.dumps(document)}
    )
    page = text(response)
    assert "Decision: " in page
    assert '<span class="error">denied</span>' in page
    assert "<tr><td>prod-guard</td><td>enforce</td><td>No manifests to prod.</td></tr>" in page
    assert "<tr><td>nagger</td><td>warn</td><td>Think twice.</td></tr>" in page
    logged = PolicyDecision.objects.get()
    assert logged.dry_run
    assert f"logged as decision {logged.pk}" in page


def test_it_says_when_no_policy_covers_the_package(admin: User) -> None:
    page = text(browser_as(admin).post("/policies/playground/", {"hook": "save", "input": "{}"}))
    assert "No enabled policy covers this package" in page
    assert not PolicyDecision.objects.exists()


def test_it_evaluates_an_unsaved_source(admin: User) -> None:
    source = deny_source(STAGE, "From the draft.", PROD)
    document = {"stage": {"context": {"account": "prod"}}}
    form = {"hook": "stage", "suffix": "deployManifest", "input": json.dumps(document), "use_source": "on"}
    page = text(browser_as(admin).post("/policies/playground/", form | {"source": source}))
    assert "<tr><td>(unsaved source)</td><td>enforce</td><td>From the draft.</td></tr>" in page
    other = text(browser_as(admin).post("/policies/playground/", form | {"hook": "save", "source": source}))
    assert "This source is evaluated by the stage hook, not the save hook; pick that one." in other
    assert not PolicyDecision.objects.exists()


def test_it_refuses_input_that_is_not_json_with_its_line(admin: User) -> None:
    response = browser_as(admin).post("/policies/playground/", {"hook": "save", "input": '{\n "a": tru\n}'})
    assert response.status_code == 400
    assert "The input is not JSON: line 2, column 7" in text(response)


def test_it_asks_for_a_stage_type_on_the_stage_hook(admin: User) -> None:
    response = browser_as(admin).post("/policies/playground/", {"hook": "stage", "suffix": "", "input": "{}"})
    assert response.status_code == 400
    assert "Give the stage hook a name such as deployManifest." in text(response)
