"""Every URL in the URL conf, walked as people who must not see or change ``shop``.

New endpoints are covered without touching this file: the walk reads the URL conf. A
URL with a parameter this file has no sample value for fails the test and says so.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from knox.models import AuthToken

from applications.models import Application, ApplicationGrant
from canary.models import CanaryConfig, CanaryJudgment, CanaryReplay, CanaryRun
from clouds.models import Account, AccountGrant, Cluster, LoadBalancer, ServerGroup
from pipelines.models import Execution, Pipeline, StageExecution
from policies.models import Policy, PolicyDecision, PolicyInput, ReferenceData
from spinweb.models import AuditEvent
from tests.conftest import browser_as

MARKER = "7f3a9c"
SECRETS = [
    f"secret-description-{MARKER}",
    f"owner-{MARKER}@example.com",
    f"artifact-{MARKER}",
    f"account-note-{MARKER}",
    f"audit-detail-{MARKER}",
    f"pipeline-note-{MARKER}",
    "shop-web-v003",
    f"policy-note-{MARKER}",
    f"data-note-{MARKER}",
    f"decision-input-{MARKER}",
    f"canary-note-{MARKER}",
]
# Requests that only touch the caller's own session or token, never shared data.
OWN_SESSION = {
    "login",
    "logout",
    "admin:login",
    "admin:logout",
    "api:token-create",
    "api:token-revoke",
    "api:token-revoke-all",
}
# POST endpoints that only compute an answer and store nothing (the fingerprint still checks it).
STORES_NOTHING = {"api:pipeline-validate", "api:canary-config-validate"}
# Policy dry runs need only READ, so the viewer gets 200: they run nothing and store only
# decision log rows marked dry run (not in the fingerprint), like the playground an admin uses.
STORES_NOTHING |= {"pipelines:dryrun", "api:pipeline-dryrun"}
# Webhook endpoints take no login by design, like Spinnaker's /webhooks: their only power is to
# start pipelines whose trigger listens (none does here), so they may answer 200 and record the
# call as a TriggerEvent (not in the fingerprint). The fingerprint still proves nothing else changed.
UNAUTHENTICATED_HOOKS = {"api:webhook", "api:git-webhook"}
MUTATIONS = ["post", "put", "patch", "delete"]
PAYLOAD = {
    "name": "shop",
    "email": "attacker@example.com",
    "owner_email": "attacker@example.com",
    "description": "changed by someone without rights",
    "permissions": {"READ": ["blog-readers"], "WRITE": ["blog-readers"], "EXECUTE": ["blog-readers"]},
    "read_groups": [],
    "confirm": "yes",
    "stage": "1",
    "judgment": "continue",
    "provider": "local",
    "regions": ["local"],
    "environment": "prod",
    "application": "shop",
}


@dataclass
class Endpoint:
    route: str
    name: str | None
    pattern: URLPattern


def walk(patterns: list[Any], prefix: str = "", namespace: str = "") -> Iterator[Endpoint]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = namespace + (f"{entry.namespace}:" if entry.namespace else "")
            yield from walk(entry.url_patterns, prefix + str(entry.pattern), inner)
        else:
            name = f"{namespace}{entry.name}" if entry.name else None  # None for unnamed
            yield Endpoint(prefix + str(entry.pattern), name, entry)


ALL_ENDPOINTS = list(walk(get_resolver().url_patterns))


@dataclass
class Secrets:
    app: Application
    account: Account
    cluster: Cluster
    group: ServerGroup
    balancer: LoadBalancer
    event: AuditEvent
    pipeline: Pipeline
    execution: Execution
    policy: Policy
    data: ReferenceData
    decision: PolicyDecision
    canary: CanaryConfig
    canary_run: CanaryRun


def _policy_rows() -> tuple[Policy, ReferenceData, PolicyDecision]:
    """A disabled policy, a reference document and a logged decision, each holding a secret."""
    source = 'package spinnaker.execution.stages.before.wait\n\nimport rego.v1\n\ndeny contains "x" if false\n'
    policy = Policy.objects.create(
        name="guard", description=SECRETS[7], source=source, package="spinnaker.execution.stages.before.wait"
    )
    data = ReferenceData.objects.create(key="prod_accounts", description=SECRETS[8], document=["prod"])
    stored = PolicyInput.objects.create(digest="0" * 64, document={"note": SECRETS[9]})
    decision = PolicyDecision.objects.create(
        hook="stage", package=policy.package, input=stored, allowed=True, result="allow", engine="embedded"
    )
    return policy, data, decision


@pytest.fixture
def secrets(shop: Application, shop_cluster: Cluster, blog: Application) -> Secrets:
    Application.objects.filter(pk=shop.pk).update(description=SECRETS[0], owner_email=SECRETS[1])
    group = ServerGroup.objects.get(cluster=shop_cluster)
    ServerGroup.objects.filter(pk=group.pk).update(artifact=SECRETS[2])
    Account.objects.filter(pk=shop_cluster.account_id).update(description=SECRETS[3])
    event = AuditEvent.objects.create(
        actor_name="admin",
        source="cli",
        action="update",
        object_type="applications.application",
        object_id=str(shop.pk),
        object_repr="shop",
        application="shop",
        detail=SECRETS[4],
    )
    pipeline = Pipeline.objects.create(
        application=shop,
        name="release",
        config={
            "description": SECRETS[6],
            "stages": [{"refId": "1", "type": "manualJudgment", "name": "Approve", "instructions": SECRETS[6]}],
        },
    )
    execution = Execution.objects.create(
        application=shop,
        pipeline=pipeline,
        name="release",
        config=pipeline.document,
        status="RUNNING",
    )
    StageExecution.objects.create(
        execution=execution,
        ref_id="1",
        type="manualJudgment",
        name="Approve",
        status="RUNNING",
        config=pipeline.config["stages"][0],
        context={"note": SECRETS[6]},
    )
    return Secrets(
        shop,
        shop_cluster.account,
        shop_cluster,
        group,
        LoadBalancer.objects.get(application=shop),
        event,
        pipeline,
        execution,
        *_policy_rows(),
        _canary_config(shop),
        _canary_run(shop),
    )


def _canary_config(shop: Application) -> CanaryConfig:
    metric = {"name": "errors", "groups": ["e"], "scopeName": "default", "query": {"type": "builtin"}}
    document = {"name": "web", "applications": ["shop"], "description": SECRETS[10], "metrics": [metric]}
    config = CanaryConfig.objects.create(application=shop, name="web", description=SECRETS[10], document=document)
    config.versions.create(version=1, document=document)
    return config


def _canary_run(shop: Application) -> CanaryRun:
    """A canary run of ``shop`` whose first interval holds a secret in its query and warning."""
    run = CanaryRun.objects.create(
        application=shop, config_name="web", config_version=1, config_document={}, thresholds={}, message=SECRETS[10]
    )
    side = {"values": [1.0], "timestamps": [run.created_at.isoformat()], "query": SECRETS[10]}
    moment = run.created_at
    CanaryJudgment.objects.create(
        run=run,
        index=1,
        control_start=moment,
        control_end=moment,
        experiment_start=moment,
        experiment_end=moment,
        classification="Pass",
        warnings=[SECRETS[10]],
        data={"metrics": {"errors": {"control": side, "experiment": side}}},
    )
    return run


def sample_kwargs(endpoint: Endpoint, s: Secrets) -> dict[str, str]:
    name = endpoint.name or ""
    admin_model = re.match(r"admin:(\w+?)_(\w+?)_\w+$", name)
    by_resource = {
        "cluster": s.cluster.pk,
        "server-group": s.group.pk,
        "load-balancer": s.balancer.pk,
        "audit-event": s.event.pk,
        "pipeline": s.pipeline.pk,
        "execution": s.execution.pk,
        "policy": s.policy.pk,
        "policy-decision": s.decision.pk,
        "canary-config": s.canary.pk,
        "canary-run": s.canary_run.pk,
    }
    values: dict[str, str] = {}
    for kwarg in endpoint.pattern.pattern.regex.groupindex:
        if kwarg == "format":
            values[kwarg] = "json"
        elif kwarg == "name":
            values[kwarg] = s.account.name if "account" in name else s.app.name
        elif kwarg == "pk":
            resource = name.removeprefix("api:").rsplit("-", 1)[0]
            assert resource in by_resource, f"No sample pk for {name}; add one to test_url_permissions.py."
            values[kwarg] = str(by_resource[resource])
        elif kwarg in {"object_id", "id"}:
            values[kwarg] = str(_admin_object_pk(admin_model, s))
        elif kwarg == "pipeline_id":
            values[kwarg] = str(s.pipeline.pk)
        elif kwarg == "config_id":  # a canary config
            values[kwarg] = str(s.canary.pk)
        elif kwarg == "run_id":  # a canary run
            values[kwarg] = str(s.canary_run.pk)
        elif kwarg == "index":  # a canary run's judged interval
            values[kwarg] = "1"
        elif kwarg == "execution_id":
            values[kwarg] = str(s.execution.pk)
        elif kwarg == "stage_id":
            values[kwarg] = str(StageExecution.objects.filter(execution=s.execution).values_list("pk", flat=True)[0])
        elif kwarg == "verb":
            values[kwarg] = "cancel"
        elif kwarg == "server_group_id":
            values[kwarg] = str(s.group.pk)
        elif kwarg == "operation":  # a one-off server group or cluster operation that needs no other input
            values[kwarg] = "disable"
        elif kwarg == "cluster_id":
            values[kwarg] = str(s.cluster.pk)
        elif kwarg == "region":
            values[kwarg] = "local"
        elif kwarg == "source":  # a webhook trigger's source
            values[kwarg] = "deploy-hook"
        elif kwarg == "provider":  # a git webhook's provider
            values[kwarg] = "github"
        elif kwarg == "policy_id":
            values[kwarg] = str(s.policy.pk)
        elif kwarg == "decision_id":
            values[kwarg] = str(s.decision.pk)
        elif kwarg == "key":  # a reference data document's key
            values[kwarg] = s.data.key
        elif kwarg == "version":  # a pipeline or policy version number
            values[kwarg] = "1"
        elif kwarg == "url":  # the admin's catch-all
            values[kwarg] = "applications/nothing-here/"
        elif kwarg == "app_label":
            values[kwarg] = "applications"
        elif kwarg == "content_type_id":
            values[kwarg] = str(ContentType.objects.get_for_model(Application).pk)
        else:
            pytest.fail(
                f"URL {endpoint.route!r} ({name}) takes {kwarg!r}; add a sample value to test_url_permissions.py."
            )
    return values


def _admin_object_pk(admin_model: re.Match[str] | None, s: Secrets) -> Any:
    models = {
        "application": s.app,
        "account": s.account,
        "cluster": s.cluster,
        "servergroup": s.group,
        "pipeline": s.pipeline,
        "execution": s.execution,
        "pipelineversion": s.pipeline,
        "loadbalancer": s.balancer,
        "auditevent": s.event,
        "policy": s.policy,
        "policyversion": s.policy,
        "referencedata": s.data,
        "policydecision": s.decision,
        "policyinput": s.decision.input,
        "canaryconfig": s.canary,
        "canaryconfigversion": s.canary.versions.get(),
        "canaryrun": s.canary_run,
        "canaryjudgment": s.canary_run.judgments.get(),
    }
    if admin_model and admin_model.group(2) in models:
        return models[admin_model.group(2)].pk
    return s.app.pk


def url_for(endpoint: Endpoint, s: Secrets) -> str:
    kwargs = sample_kwargs(endpoint, s)
    if endpoint.name:
        return reverse(endpoint.name, kwargs=kwargs)
    # Unnamed patterns (the admin's bare object URLs and catch-all): fill the placeholders in.
    path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: kwargs[m.group(1)], endpoint.route)
    path = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: kwargs[m.group(1)], path)
    return "/" + path.replace("^", "").replace("$", "")


def fingerprint() -> str:
    """Everything a forbidden request could change, as one comparable string."""
    rows: dict[str, Any] = {
        "applications": list(Application.objects.order_by("pk").values()),
        "grants": list(ApplicationGrant.objects.order_by("pk").values()),
        "accounts": list(Account.objects.order_by("pk").values()),
        "account_grants": list(AccountGrant.objects.order_by("pk").values()),
        "clusters": list(Cluster.objects.order_by("pk").values()),
        "server_groups": list(ServerGroup.objects.order_by("pk").values()),
        "load_balancers": list(LoadBalancer.objects.order_by("pk").values()),
        "users": list(User.objects.order_by("pk").values("pk", "username", "is_staff", "is_superuser")),
        "audit": list(AuditEvent.objects.exclude(action="token_create").order_by("pk").values()),
        "pipelines": list(Pipeline.objects.order_by("pk").values()),
        "executions": list(Execution.objects.order_by("pk").values()),
        "stages": list(StageExecution.objects.order_by("pk").values()),
        "policies": list(Policy.objects.order_by("pk").values()),
        "reference_data": list(ReferenceData.objects.order_by("pk").values()),
        "canary_configs": list(CanaryConfig.objects.order_by("pk").values()),
        "canary_runs": list(CanaryRun.objects.order_by("pk").values()),
        "canary_replays": list(CanaryReplay.objects.order_by("pk").values()),
    }
    return json.dumps(rows, default=str, sort_keys=True)


def personas(request: pytest.FixtureRequest) -> dict[str, Client]:
    clients = {"anonymous": browser_as(None)}
    for persona in ("nobody", "outsider"):
        clients[persona] = browser_as(request.getfixturevalue(persona))
    return clients


def test_it_walks_every_url_in_the_url_conf() -> None:
    names = {endpoint.name for endpoint in ALL_ENDPOINTS}
    # Guards the walk itself: if it found nothing, the tests below would pass vacuously.
    assert {"applications:detail", "api:application-detail", "api:server-group-list", "admin:index"} <= names
    assert len(ALL_ENDPOINTS) > 60


@pytest.mark.django_db
def test_it_leaks_nothing_on_get_to_people_without_read(secrets: Secrets, request: pytest.FixtureRequest) -> None:
    clients = personas(request)
    problems = []
    for endpoint in ALL_ENDPOINTS:
        url = url_for(endpoint, secrets)
        for persona, client in clients.items():
            response = client.get(url, HTTP_ACCEPT="text/html,application/json")
            body = response.content.decode(errors="replace")
            leaked = [secret for secret in SECRETS if secret in body]
            if leaked:
                problems.append(f"{persona} GET {url} -> {response.status_code} shows {leaked}")
            if (
                persona == "anonymous"
                and response.status_code == 200
                and endpoint.name
                not in {
                    "login",
                    "admin:login",
                    "healthz",
                    "api:docs",
                }
            ):
                problems.append(f"anonymous GET {url} -> 200; only the login page and health check are public")
    assert not problems, "\n".join(problems)


@pytest.mark.django_db
def test_it_allows_no_change_by_people_without_write(secrets: Secrets, request: pytest.FixtureRequest) -> None:
    clients = personas(request)
    clients["viewer"] = browser_as(request.getfixturevalue("viewer"))
    before = fingerprint()
    problems = []
    for endpoint in ALL_ENDPOINTS:
        if endpoint.name in OWN_SESSION | STORES_NOTHING:
            continue
        url = url_for(endpoint, secrets)
        for persona, client in clients.items():
            for method in MUTATIONS:
                response = getattr(client, method)(url, data=json.dumps(PAYLOAD), content_type="application/json")
                if response.status_code < 300 and endpoint.name not in UNAUTHENTICATED_HOOKS:
                    problems.append(f"{persona} {method.upper()} {url} (json) -> {response.status_code}")
                if method == "post":
                    # Confirmation boxes: the application's name for a delete, "yes" for a cancel.
                    for confirm in ("shop", "yes"):
                        data = {k: v for k, v in PAYLOAD.items() if isinstance(v, str)} | {"confirm": confirm}
                        form = client.post(url, data=data)
                        if form.status_code < 300:
                            problems.append(f"{persona} POST {url} (form) -> {form.status_code}")
    assert not problems, "\n".join(problems)
    assert fingerprint() == before, "A request without rights changed stored data."
    assert not AuthToken.objects.exists()


@pytest.mark.django_db
def test_it_sends_anonymous_browsers_to_the_login_page(secrets: Secrets) -> None:
    response = browser_as(None).get(reverse("applications:detail", kwargs={"name": "shop"}))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.django_db
def test_it_answers_anonymous_api_calls_with_401(secrets: Secrets) -> None:
    response = browser_as(None).get(reverse("api:application-list"))
    assert response.status_code == 401
