"""``manage.py demo`` seeds the hello demo once: running it again changes nothing."""

from __future__ import annotations

import io
import json
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.test import Client

from applications.models import Application
from canary.models import CanaryConfig
from clouds.models import Account, LoadBalancer, ProviderOperation, ServerGroup
from clouds.providers.local.runtime.client import SupervisorClient
from pipelines.models import Pipeline, PipelineVersion
from spinweb.models import AuditEvent
from tests.clouds.local.conftest import LocalHome, get, wait_for_group, wait_until
from tests.clouds.local.fixtures import local_home, local_runtime

__all__ = ["local_home", "local_runtime"]


def demo(*args: str) -> str:
    out = io.StringIO()
    call_command("demo", *args, stdout=out)
    return out.getvalue()


def rows() -> dict[str, Any]:
    account = Account.objects.get(name="local")
    return {
        "groups": sorted(Group.objects.values_list("name", flat=True)),
        "application": Application.objects.get(name="hello").audit_snapshot(),
        "account": account.audit_snapshot(),
        "pipelines": sorted(Pipeline.objects.values_list("name", "version")),
        "canary configs": sorted(CanaryConfig.objects.values_list("application__name", "name", "version")),
        "pipeline versions": PipelineVersion.objects.count(),
        "server groups": sorted(ServerGroup.objects.values_list("name", "artifact", "destroyed_at")),
        "load balancers": sorted(LoadBalancer.objects.values_list("name", "address")),
        "provider operations": ProviderOperation.objects.count(),
        "audit events": AuditEvent.objects.count(),
        "users": sorted(get_user_model().objects.values_list("username", "password", "is_superuser")),
    }


def test_it_seeds_the_demo_once_and_changes_nothing_the_second_time(local_runtime: LocalHome, db: None) -> None:
    first = demo("--admin-password", "demo-pass-1", "--instances", "1")
    seeded = rows()
    second = demo("--admin-password", "demo-pass-1", "--instances", "1")

    assert "Created the application hello." in first
    assert "The demo was already set up; nothing changed." in second
    assert rows() == seeded
    assert seeded["pipelines"] == [("Blue/Green", 1), ("Canary", 1), ("Highlander", 1), ("Rolling Blue/Green", 1)]
    assert seeded["canary configs"] == [("hello", "hello-canary", 1)]
    assert [(name, artifact) for name, artifact, _ in seeded["server groups"]] == [("hello-web-v000", "hello:v1")]
    state = SupervisorClient(local_runtime.path, local_runtime.ports).state()
    assert sorted(state.server_groups) == ["hello-web-v000"]
    assert sorted(state.load_balancers) == ["hello-web"]
    wait_for_group(local_runtime.client(), "hello-web-v000", up=1)
    address = state.load_balancers["hello-web"].address
    wait_until(lambda: get(f"http://{address}/")[0] == 200, 10, "hello v1 behind hello-web")
    assert json.loads(get(f"http://{address}/")[1])["version"] == "v1"
    assert Client().login(username="admin", password="demo-pass-1")


def test_it_gives_an_existing_local_account_the_demo_artifact_and_keeps_its_grants(
    local_runtime: LocalHome, db: None
) -> None:
    ops = Group.objects.create(name="ops")
    account = Account.objects.create(name="local", provider="local", regions=["local"], environment="dev")
    account.grants.create(group=ops, level="WRITE")

    demo("--instances", "1")

    account.refresh_from_db()
    assert sorted(account.artifacts) == ["hello"]
    assert account.permissions == {"READ": [], "WRITE": ["hello-team", "ops"]}
