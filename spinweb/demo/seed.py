"""Seeding the demo: create what is missing, leave alone what exists (safe to run any number of times).

Rows first, in one transaction, through the apps' audited actions: the group ``hello-team``,
application ``hello`` (READ, WRITE, EXECUTE for the team), the local account ``local`` with the
artifact ``hello`` (WRITE for the team), the canary config ``hello-canary``, the four pipelines,
and optionally an admin user. A pipeline, canary config, application or artifact that already
exists is kept as it is, so edits made in the UI survive a re-run.

Then the cloud, through the local provider (outside any transaction, as the driver requires):
the load balancer ``hello-web`` unless it runs, and a first server group of ``hello:v1`` when the
cluster has none. This starts the local supervisor if it is not running.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import CommandError
from django.db import transaction

from applications import actions as application_actions
from applications.models import Application
from canary import actions as canary_actions
from canary.models import CanaryConfig
from clouds import actions as cloud_actions
from clouds.models import Account
from clouds.providers.base import (
    ArtifactRef,
    Capacity,
    HealthCheck,
    LoadBalancerSpec,
    LoadBalancerState,
    ServerGroupSpec,
    ServerGroupState,
    provider_for,
)
from pipelines import actions as pipeline_actions
from pipelines.models import Pipeline
from spinweb.actions import create_audited
from spinweb.audit import record, snapshot
from spinweb.demo import definitions as demo
from spinweb.models import AuditAction, AuditSource
from spinweb.permissions import Access

SOURCE = AuditSource.CLI
GOOD_ENVIRONMENT = {"SAMPLE_ERROR_RATE": "0", "SAMPLE_LATENCY_MS": "0"}


@dataclass
class SeedReport:
    """What seeding did, as sentences for the command's output (``echo`` prints each as it comes)."""

    echo: Callable[[str], None] | None = None
    lines: list[str] = field(default_factory=list)

    def add(self, line: str) -> None:
        self.lines.append(line)
        if self.echo is not None:
            self.echo(line)


@transaction.atomic
def seed_rows(report: SeedReport, *, admin_username: str = "admin", admin_password: str | None = None) -> Account:
    """The demo's rows (see the module docstring); returns the local account."""
    team = _team(report)
    _application(team, report)
    account = _account(team, report)
    _canary_config(report)
    _pipelines(report)
    _admin(admin_username, admin_password, report)
    return account


def _team(report: SeedReport) -> Group:
    team = Group.objects.filter(name=demo.TEAM).first()
    if team is None:
        team = create_audited(None, Group(name=demo.TEAM), source=SOURCE)
        report.add(f"Created the group {demo.TEAM} (may read, change and run hello, and deploy to local).")
    return team


def _application(team: Group, report: SeedReport) -> None:
    if Application.objects.filter(name=demo.APPLICATION).exists():
        return
    application_actions.create_application(
        None,
        name=demo.APPLICATION,
        owner_email=demo.OWNER_EMAIL,
        description=(
            "The demo application: a tiny HTTP service deployed to this machine with three strategies, "
            "and through a canary."
        ),
        grants={level: [team] for level in (Access.READ, Access.WRITE, Access.EXECUTE)},
        source=SOURCE,
    )
    report.add(f"Created the application {demo.APPLICATION}.")


def _account(team: Group, report: SeedReport) -> Account:
    account = Account.objects.prefetch_related("grants__group").filter(name=demo.ACCOUNT).first()
    if account is None:
        report.add(f"Created the local account {demo.ACCOUNT} with the artifact {demo.ARTIFACT_NAME}.")
        return cloud_actions.create_account(
            None,
            fields={
                "name": demo.ACCOUNT,
                "provider": "local",
                "regions": [demo.REGION],
                "environment": "dev",
                "description": "Processes on this machine (the embedded provider).",
                "artifacts": {demo.ARTIFACT_NAME: demo.ARTIFACT},
            },
            grants={Access.WRITE: [team]},
            source=SOURCE,
        )
    if account.provider != "local" or demo.REGION not in account.regions:
        raise CommandError(
            f"The account {demo.ACCOUNT!r} exists but is not a local account with region {demo.REGION!r}; "
            "the demo needs it. Rename or change that account, then run the demo again."
        )
    changes, grants = _account_changes(account, team)
    if changes or grants is not None:
        cloud_actions.update_account(None, account, changes=changes, grants=grants, source=SOURCE)
        report.add(f"Gave the account {demo.ACCOUNT} what the demo needs (artifact {demo.ARTIFACT_NAME}, team grant).")
    return account


def _account_changes(account: Account, team: Group) -> tuple[dict[str, Any], dict[str, list[Any]] | None]:
    """The artifact and the team's WRITE grant if missing; the account's other grants are kept."""
    changes: dict[str, Any] = {}
    if demo.ARTIFACT_NAME not in (account.artifacts or {}):
        changes["artifacts"] = {**(account.artifacts or {}), demo.ARTIFACT_NAME: demo.ARTIFACT}
    grants: dict[str, list[Any]] = {}
    for grant in account.grants.all():
        grants.setdefault(grant.level, []).append(grant.group)
    if team in grants.get(Access.WRITE, []):
        return changes, None
    grants.setdefault(Access.WRITE, []).append(team)
    return changes, grants


def _canary_config(report: SeedReport) -> None:
    if CanaryConfig.objects.filter(application__name=demo.APPLICATION, name=demo.CANARY_CONFIG).exists():
        return
    canary_actions.save_config(None, demo.canary_config_document(), source=SOURCE)
    report.add(f"Created the canary config {demo.CANARY_CONFIG} (error rate and latency, built-in metrics).")


def _pipelines(report: SeedReport) -> None:
    existing = set(Pipeline.objects.filter(application__name=demo.APPLICATION).values_list("name", flat=True))
    for document in demo.pipeline_documents():
        if document["name"] not in existing:
            pipeline_actions.save_pipeline(None, document, source=SOURCE)
            report.add(f"Created the pipeline {document['name']}.")


def _admin(username: str, password: str | None, report: SeedReport) -> None:
    users = get_user_model()
    if password is None:
        if not users.objects.filter(is_superuser=True).exists():
            report.add(
                "There is no admin user yet: run `python manage.py demo --admin-password <password>` "
                "or `python manage.py createsuperuser`."
            )
        return
    user = users.objects.filter(username=username).first()
    if user is None:
        user = users.objects.create_superuser(username=username, email=f"{username}@localhost", password=password)
        record(None, AuditAction.CREATE, user, source=SOURCE, after=snapshot(user))
        report.add(f"Created the admin user {username} with the password you gave.")
    elif not user.check_password(password):
        user.set_password(password)
        user.save(update_fields=["password"])
        record(None, AuditAction.UPDATE, user, source=SOURCE, detail="password set by manage.py demo")
        report.add(f"Set the password of {username} to the one you gave.")


# The cloud ---------------------------------------------------------------------------------


def ensure_load_balancer(account: Account, report: SeedReport) -> tuple[LoadBalancerState, bool]:
    """The demo's load balancer, and whether it was created now (on a free port) because none ran."""
    provider = provider_for(account)
    current = provider.load_balancer(demo.LOAD_BALANCER, demo.REGION)
    if current is not None:
        return current, False
    spec = LoadBalancerSpec(demo.APPLICATION, account.name, demo.REGION, demo.LOAD_BALANCER)
    # A fresh key: a load balancer that was shut down since an earlier run is created again.
    created = provider.upsert_load_balancer(spec, idempotency_key=f"demo:lb:{uuid.uuid4()}")
    report.add(f"Started the load balancer {demo.LOAD_BALANCER} at http://{created.address}/.")
    return created, True


def initial_spec(account: Account, instances: int, version: str = "v1") -> ServerGroupSpec:
    return ServerGroupSpec(
        application=demo.APPLICATION,
        account=account.name,
        region=demo.REGION,
        stack=demo.STACK,
        artifact=ArtifactRef(demo.ARTIFACT_NAME, version),
        capacity=Capacity(instances, instances, instances),
        environment=dict(GOOD_ENVIRONMENT),
        health_check=HealthCheck(),
        load_balancers=[demo.LOAD_BALANCER],
    )


def ensure_initial_group(account: Account, instances: int, report: SeedReport) -> ServerGroupState | None:
    """Deploy ``hello:v1`` when the cluster has no live server group; the new group, or None."""
    provider = provider_for(account)
    if provider.server_groups(demo.CLUSTER, demo.REGION):
        return None
    created = provider.create_server_group(
        initial_spec(account, instances), idempotency_key=f"demo:initial:{uuid.uuid4()}"
    )
    count = f"{instances} instance" + ("s" if instances != 1 else "")
    report.add(f"Deployed {created.name} ({created.artifact}, {count}) behind {demo.LOAD_BALANCER}.")
    return created
