"""The Django admin saves policies and reference data through the actions: checked, versioned, audited."""

from __future__ import annotations

import json

from django.contrib.auth.models import User

from policies.models import Policy, PolicyDecision, ReferenceData
from spinweb.models import AuditEvent
from tests.conftest import browser_as
from tests.policies.conftest import MakePolicy, deny_source
from tests.policies.test_pages_policies import WAIT, text

SOURCE = deny_source(WAIT, "No.", "input.stage.context.waitTime > 10")


def admin_form(versions: int = 0, **changes: str) -> dict[str, str]:
    # The read-only versions inline still posts its management form.
    inline = {"versions-TOTAL_FORMS": str(versions), "versions-INITIAL_FORMS": str(versions)}
    return {"name": "p", "description": "", "mode": "enforce", "source": SOURCE, "tests": "[]"} | inline | changes


def test_it_creates_a_policy_as_version_one_with_an_audit_event(admin: User) -> None:
    crlf = SOURCE.replace("\n", "\r\n")  # as a browser submits a textarea
    response = browser_as(admin).post("/admin/policies/policy/add/", admin_form(enabled="on", source=crlf))
    assert response.status_code == 302, text(response)
    policy = Policy.objects.get(name="p")
    assert (policy.package, policy.version, policy.enabled, policy.source) == (WAIT, 1, True, SOURCE.strip())
    assert policy.versions.count() == 1
    assert AuditEvent.objects.filter(object_type="policies.policy", source="admin", action="create").count() == 1


def test_it_changes_a_policy_as_a_new_version(admin: User, make_policy: MakePolicy) -> None:
    policy = make_policy(SOURCE, name="p")
    response = browser_as(admin).post(
        f"/admin/policies/policy/{policy.pk}/change/", admin_form(versions=1, mode="warn")
    )
    assert response.status_code == 302, text(response)
    policy.refresh_from_db()
    assert (policy.mode, policy.version) == ("warn", 2)
    assert AuditEvent.objects.filter(object_type="policies.policy", source="admin", action="update").count() == 1


def test_it_shows_rego_errors_and_failing_cases_beside_the_fields(admin: User) -> None:
    client = browser_as(admin)
    broken = client.post("/admin/policies/policy/add/", admin_form(source=f"package {WAIT}\n\ndeny contains if {{\n"))
    assert broken.status_code == 200
    assert "line " in text(broken)
    case = [{"name": "small", "input": {"stage": {"context": {"waitTime": 1}}}, "expect": {"allowed": False}}]
    failing = client.post("/admin/policies/policy/add/", admin_form(tests=json.dumps(case)))
    assert "Test case &#x27;small&#x27; failed" in failing.content.decode()
    assert not Policy.objects.exists()


def test_it_saves_reference_data_through_the_action(admin: User) -> None:
    client = browser_as(admin)
    added = client.post("/admin/policies/referencedata/add/", {"key": "images", "description": "", "document": '["a"]'})
    assert added.status_code == 302, text(added)
    item = ReferenceData.objects.get(key="images")
    changed = client.post(
        f"/admin/policies/referencedata/{item.pk}/change/", {"description": "Approved", "document": '["a", "b"]'}
    )
    assert changed.status_code == 302, text(changed)
    item.refresh_from_db()
    assert (item.document, item.version) == (["a", "b"], 2)
    assert AuditEvent.objects.filter(object_type="policies.referencedata", source="admin").count() == 2
    reserved = client.post("/admin/policies/referencedata/add/", {"key": "spinweb", "document": "{}"})
    assert "The key &#x27;spinweb&#x27; is reserved" in reserved.content.decode()


def test_it_shows_decisions_read_only(admin: User, make_policy: MakePolicy) -> None:
    from policies import gate
    from policies.hooks import Hook

    make_policy(SOURCE, name="p")
    decision = gate.decide(Hook.STAGE, WAIT, {"stage": {"context": {"waitTime": 99}}})
    client = browser_as(admin)
    page = text(client.get(f"/admin/policies/policydecision/{decision.record_id}/change/"))
    assert '"waitTime": 99' in page
    assert client.get("/admin/policies/policydecision/add/").status_code == 403
    assert PolicyDecision.objects.count() == 1
