"""``POST /api/v1/webhooks/git/<provider>``: GitHub and GitLab pushes start the pipelines whose
git trigger follows that repository and branch; signatures and tokens are checked."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User

from applications.models import Application
from pipelines import actions
from pipelines.engine.runner import run_due_tasks
from pipelines.models import Execution, Pipeline, TriggerEvaluation, TriggerEvent
from pipelines.triggers.git import sign
from tests.conftest import browser_as
from tests.pipelines.conftest import stage

SECRET = "git-secret-91ac"
HASH = "62c61fc2b7311878b65de9287d0786f80ce1aa9f"


def github_push(ref: str = "refs/heads/main", after: str = HASH, full_name: str = "acme/shop") -> dict[str, Any]:
    """A GitHub push delivery, trimmed to the fields a real one always has."""
    owner, name = full_name.split("/")
    return {
        "ref": ref,
        "before": "1a15db6abe7d843d4857054bffcd145e3fe6dd4b",
        "after": after,
        "created": False,
        "deleted": after == "0" * 40,
        "forced": False,
        "base_ref": None,
        "compare": f"https://github.com/{full_name}/compare/1a15db6abe7d...62c61fc2b731",
        "commits": [
            {
                "id": after,
                "message": "Fix the checkout button",
                "author": {"name": "Ada", "email": "ada@example.com", "username": "ada"},
                "added": [],
                "removed": [],
                "modified": ["web/checkout.py"],
            }
        ],
        "repository": {
            "id": 169918117,
            "name": name,
            "full_name": full_name,
            "private": True,
            "owner": {"name": owner, "login": owner},
            "default_branch": "main",
        },
        "pusher": {"name": "ada", "email": "ada@example.com"},
        "sender": {"login": "ada", "id": 7},
    }


def gitlab_push(ref: str = "refs/heads/main", path: str = "acme/shop", after: str = HASH) -> dict[str, Any]:
    """A GitLab "Push Hook" delivery, trimmed likewise."""
    deleted = after == "0" * 40
    return {
        "object_kind": "push",
        "event_name": "push",
        "before": "95790bf891e76fee5e1747ab589903a6a1f80f22",
        "after": after,
        "ref": ref,
        "checkout_sha": None if deleted else after,
        "user_username": "ada",
        "project_id": 15,
        "project": {
            "id": 15,
            "name": path.rsplit("/", 1)[1],
            "namespace": path.rsplit("/", 1)[0],
            "path_with_namespace": path,
            "default_branch": "main",
        },
        "commits": [] if deleted else [{"id": after, "message": "Fix the checkout button"}],
        "total_commits_count": 0 if deleted else 1,
    }


def github(payload: dict[str, Any], event: str = "push", secret: str | None = SECRET) -> Any:
    body = json.dumps(payload).encode()
    headers = {"X-GitHub-Event": event, "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958"}
    if secret is not None:
        headers["X-Hub-Signature-256"] = sign(secret, body)
    return browser_as(None).post(
        "/api/v1/webhooks/git/github", data=body, content_type="application/json", headers=headers
    )


def gitlab(payload: dict[str, Any], token: str | None = SECRET) -> Any:
    headers = {"X-Gitlab-Event": "Push Hook"} | ({"X-Gitlab-Token": token} if token is not None else {})
    return browser_as(None).post(
        "/api/v1/webhooks/git/gitlab", data=json.dumps(payload), content_type="application/json", headers=headers
    )


@pytest.fixture
def follow(developer: User, shop: Application) -> Callable[..., Pipeline]:
    def follow(name: str = "deploy", **trigger: Any) -> Pipeline:
        fields = {"source": "github", "project": "acme", "slug": "shop", "branch": "^main$", "secret": SECRET}
        document = {
            "application": "shop",
            "name": name,
            "stages": [
                stage("1", "evaluateVariables", "Vars", variables=[{"key": "built", "value": "${trigger['branch']}"}])
            ],
            "triggers": [{"type": "git", **(fields | trigger)}],
        }
        return actions.save_pipeline(developer, document, source="api")

    return follow


def test_it_starts_a_run_on_a_signed_github_push_with_branch_and_hash(follow: Callable[..., Pipeline]) -> None:
    pipeline = follow()
    response = github(github_push())
    assert response.status_code == 200, response.content
    run = Execution.objects.get(pipeline=pipeline)
    assert response.json()["fired"][0]["execution"] == str(run.pk)
    trigger = run.trigger
    assert (trigger["type"], trigger["source"], trigger["project"], trigger["slug"]) == (
        "git",
        "github",
        "acme",
        "shop",
    )
    assert (trigger["branch"], trigger["hash"]) == ("main", HASH)
    assert trigger["payload"]["repository"]["full_name"] == "acme/shop"
    run_due_tasks()
    assert run.stages.get(name="Vars").outputs == {"built": "main"}


def test_it_matches_the_whole_branch_name_against_the_regex(follow: Callable[..., Pipeline]) -> None:
    follow(name="main-only")
    follow(name="releases", branch="release/.*")
    follow(name="any-branch", branch="")
    response = github(github_push(ref="refs/heads/main-old"))
    fired = [row["pipeline"] for row in response.json()["fired"]]
    assert fired == ["any-branch"]
    reasons = {row["pipeline"]: row["reason"] for row in response.json()["skipped"]}
    assert reasons["main-only"] == "branch 'main-old' does not match '^main$'."
    assert reasons["releases"] == "branch 'main-old' does not match 'release/.*'."


def test_it_ignores_other_repositories_entirely(follow: Callable[..., Pipeline]) -> None:
    follow()
    response = github(github_push(full_name="acme/web"))
    assert response.json()["fired"] == response.json()["skipped"] == []
    assert TriggerEvent.objects.get().summary == "No git trigger follows github acme/web."
    assert not TriggerEvaluation.objects.exists()


def test_it_rejects_a_bad_or_missing_github_signature(follow: Callable[..., Pipeline]) -> None:
    follow()
    for secret in ("not-the-secret", None):
        response = github(github_push(), secret=secret)
        assert response.status_code == 401
        assert b"deploy" not in response.content
    assert not Execution.objects.exists()
    reasons = set(TriggerEvaluation.objects.values_list("reason", flat=True))
    assert reasons == {"The X-Hub-Signature-256 signature is invalid.", "The X-Hub-Signature-256 signature is missing."}


def test_it_answers_githubs_ping_with_pong(follow: Callable[..., Pipeline]) -> None:
    follow()
    response = github({"zen": "Keep it logically awesome.", "hook_id": 1}, event="ping")
    assert response.status_code == 200
    assert response.json() == {"message": "pong"}
    assert not TriggerEvent.objects.exists()


def test_it_does_not_fire_for_a_deleted_branch(follow: Callable[..., Pipeline]) -> None:
    follow()
    response = github(github_push(after="0" * 40))
    assert response.json()["fired"] == []
    assert response.json()["skipped"][0]["reason"] == "The push deleted the branch main."


def test_it_starts_a_run_on_a_gitlab_push_with_the_right_token(follow: Callable[..., Pipeline]) -> None:
    pipeline = follow(source="gitlab", project="acme/platform")
    response = gitlab(gitlab_push(path="acme/platform/shop"))
    assert response.status_code == 200, response.content
    run = Execution.objects.get(pipeline=pipeline)
    assert (run.trigger["source"], run.trigger["branch"], run.trigger["hash"]) == ("gitlab", "main", HASH)


def test_it_rejects_a_gitlab_push_with_a_wrong_or_missing_token(follow: Callable[..., Pipeline]) -> None:
    follow(source="gitlab")
    assert gitlab(gitlab_push(), token="guess").status_code == 401
    assert gitlab(gitlab_push(), token=None).status_code == 401
    assert not Execution.objects.exists()


def test_it_does_not_fire_for_a_deleted_gitlab_branch(follow: Callable[..., Pipeline]) -> None:
    follow(source="gitlab")
    response = gitlab(gitlab_push(after="0" * 40))
    assert response.json()["skipped"][0]["reason"] == "The push deleted the branch main."
    assert not Execution.objects.exists()


def test_it_answers_404_for_a_provider_it_does_not_know(follow: Callable[..., Pipeline]) -> None:
    response = browser_as(None).post("/api/v1/webhooks/git/bitbucket", data="{}", content_type="application/json")
    assert response.status_code == 404
    assert response.json()["detail"] == "Spinweb takes pushes from github and gitlab, not 'bitbucket'."


def test_it_refuses_a_delivery_without_its_event_header(follow: Callable[..., Pipeline]) -> None:
    response = browser_as(None).post(
        "/api/v1/webhooks/git/github", data=json.dumps(github_push()), content_type="application/json"
    )
    assert response.status_code == 400
    assert "X-GitHub-Event header is missing" in response.json()["detail"]
