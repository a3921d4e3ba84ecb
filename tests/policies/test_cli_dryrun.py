"""``manage.py pipeline dryrun APP NAME [--param k=v]... [--user NAME] [--json]``: a table of every
gate, exit 0 when nothing would deny, 1 when something would, 2 on bad input."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError

from applications.models import Application
from pipelines import actions
from pipelines.models import Execution
from tests.pipelines.conftest import stage
from tests.policies.conftest import MakePolicy

SHORT_WAITS = """
package spinnaker.execution.stages.before.wait
import rego.v1

deny contains msg if {
    to_number(input.stage.context.waitTime) > 60
    msg := concat("", [input.stage.name, " waits too long for ", input.user.username])
}
"""


@pytest.fixture
def release(shop: Application, developer: User, make_policy: MakePolicy) -> None:
    document = {
        "application": "shop",
        "name": "release",
        "parameterConfig": [{"name": "soak", "default": "10"}],
        "stages": [
            stage("1", "wait", "Soak", waitTime="${parameters.soak}"),
            stage(
                "2",
                "checkPreconditions",
                "Check",
                requires=("1",),
                preconditions=[{"type": "expression", "context": {"expression": "${true}"}}],
            ),
        ],
    }
    actions.save_pipeline(None, document, source="cli")
    make_policy(SHORT_WAITS, name="short-waits")


def test_it_prints_a_table_and_exits_0_when_allowed(release: None) -> None:
    out = StringIO()
    call_command("pipeline", "dryrun", "shop", "release", "--user", "developer", stdout=out)
    assert out.getvalue().splitlines() == [
        "Dry run of shop/release started by developer (parameters: soak=10)",
        "GATE                                  REF  TYPE                         OUTCOME",
        "execution                             -    -                            not covered",
        "stage Soak                            1    wait                         allowed",
        "  task wait                           1    wait                         not covered",
        "stage Check                           2    checkPreconditions           not covered",
        "  stage Check precondition 1          2<1  checkPrecondition            not covered",
        "    task checkExpressionPrecondition  2<1  checkExpressionPrecondition  not covered",
        "Allowed: no policy would deny this run.",
    ]
    assert not Execution.objects.exists()


def test_it_exits_1_and_shows_the_messages_when_a_gate_would_deny(release: None) -> None:
    out = StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("pipeline", "dryrun", "shop", "release", "--param", "soak=600", "--user", "developer", stdout=out)
    assert caught.value.returncode == 1
    lines = out.getvalue().splitlines()
    assert lines[3].split() == ["stage", "Soak", "1", "wait", "denied"]
    assert lines[4] == "    Denied by policy short-waits: Soak waits too long for developer"
    assert lines[-1] == "Denied: 1 gate(s) would deny."


def test_it_prints_json(release: None) -> None:
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("pipeline", "dryrun", "shop", "release", "--param", "soak=600", "--json", stdout=out)
    report = json.loads(out.getvalue())
    assert report["allowed"] is False
    assert report["user"] == "system"
    assert report["rows"][0] == {
        "ref_id": "1",
        "name": "Soak",
        "type": "wait",
        "kind": "stage",
        "synthetic": False,
        "parent_ref": "",
        "outcome": "denied",
        "messages": ["Denied by policy short-waits: Soak waits too long for system"],
    }


def test_it_exits_2_on_an_unknown_pipeline_user_or_bad_parameter(release: None) -> None:
    for args, message in [
        (("shop", "nope"), "No pipeline 'nope' in application 'shop'."),
        (("shop", "release", "--user", "ghost"), "No user named 'ghost'."),
        (("shop", "release", "--param", "soak"), "--param takes NAME=VALUE, not 'soak'."),
    ]:
        with pytest.raises(CommandError) as caught:
            call_command("pipeline", "dryrun", *args, stdout=StringIO())
        assert (caught.value.returncode, str(caught.value)) == (2, message)
