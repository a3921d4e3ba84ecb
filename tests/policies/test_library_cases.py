"""The starter library: eleven or more policies, each with test cases that pass through the
same runner a save uses, in a package some hook evaluates, written in rego.v1."""

from __future__ import annotations

import pytest

from policies import rego
from policies.engines import data_document
from policies.hooks import hook_of
from policies.library import Starter, starters
from policies.testing import run_cases

LIBRARY = {starter.name: starter for starter in starters()}


def test_it_ships_eleven_policies_or_more_for_every_kind_of_hook() -> None:
    assert len(LIBRARY) >= 11
    hooks = {hook_of(rego.package_of(starter.source)) for starter in LIBRARY.values()}
    assert {hook.value for hook in hooks if hook is not None} == {
        "save",
        "execution",
        "stage",
        "deployment",
        "authz",
    }


@pytest.mark.parametrize("name", sorted(LIBRARY))
def test_it_passes_its_own_test_cases(name: str, db: None) -> None:
    starter: Starter = LIBRARY[name]
    assert rego.check_source(starter.source) == []
    assert "import rego.v1" in starter.source
    assert starter.description
    assert len(starter.tests) >= 3
    hook = hook_of(rego.package_of(starter.source))
    assert hook is not None
    results = run_cases(starter.source, hook, starter.tests, data_document(), name=name)
    assert [(r.name, r.detail) for r in results if not r.passed] == []
    assert any(case["expect"].get("allowed") is False for case in starter.tests)
    assert any(case["expect"].get("allowed") is True for case in starter.tests)
