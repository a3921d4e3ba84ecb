"""Push events of GitHub and GitLab, read into one shape, and their authentication. Plain Python.

GitHub signs the raw body with the webhook's secret (``X-Hub-Signature-256: sha256=<hex HMAC>``);
GitLab sends the secret itself as ``X-Gitlab-Token``. Both are compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

PROVIDERS: Final = ("github", "gitlab")
EVENT_HEADERS: Final = {"github": "X-GitHub-Event", "gitlab": "X-Gitlab-Event"}
PUSH_EVENTS: Final = {"github": "push", "gitlab": "Push Hook"}
SIGNATURE_HEADER: Final = "X-Hub-Signature-256"
GITLAB_TOKEN_HEADER: Final = "X-Gitlab-Token"
ZERO_SHA: Final = "0" * 40


@dataclass(frozen=True)
class Push:
    """A push as triggers see it: the repository as project/slug, the branch (None for a tag) and hash."""

    provider: str
    project: str
    slug: str
    ref: str
    hash: str
    deleted: bool

    @property
    def branch(self) -> str | None:
        return self.ref.removeprefix("refs/heads/") if self.ref.startswith("refs/heads/") else None

    @property
    def repository(self) -> str:
        return f"{self.project}/{self.slug}"


class PushUnreadable(ValueError):
    """A push payload without the fields every push has; the message is a sentence."""


def read_push(provider: str, payload: Mapping[str, Any]) -> Push:
    """The push in ``payload`` (GitHub's or GitLab's shape); raises ``PushUnreadable``."""
    path = _github_repository(payload) if provider == "github" else _gitlab_repository(payload)
    if not path or "/" not in path:
        where = "repository.full_name" if provider == "github" else "project.path_with_namespace"
        raise PushUnreadable(f"The push names no repository as owner/name ({where}).")
    project, slug = path.rsplit("/", 1)
    ref = payload.get("ref")
    if not isinstance(ref, str) or not ref:
        raise PushUnreadable("The push has no ref such as refs/heads/main.")
    after = str(payload.get("after") or "")
    sha = payload.get("checkout_sha") if provider == "gitlab" else None
    commit = str(sha or after)
    deleted = (
        payload.get("deleted") is True or after == ZERO_SHA or (provider == "gitlab" and sha is None and not after)
    )
    return Push(provider, project, slug, ref, commit, deleted)


def _github_repository(payload: Mapping[str, Any]) -> str:
    repository = payload.get("repository")
    if not isinstance(repository, dict):
        return ""
    if isinstance(repository.get("full_name"), str):
        return str(repository["full_name"])
    owner = repository.get("owner")
    name = (owner.get("login") or owner.get("name")) if isinstance(owner, dict) else None
    return f"{name}/{repository.get('name')}" if name and repository.get("name") else ""


def _gitlab_repository(payload: Mapping[str, Any]) -> str:
    project = payload.get("project")
    if not isinstance(project, dict):
        return ""
    if isinstance(project.get("path_with_namespace"), str):
        return str(project["path_with_namespace"])
    namespace, name = project.get("namespace"), project.get("name")
    return f"{namespace}/{name}" if namespace and name else ""


def authentication_problem(provider: str, secret: str, body: bytes, headers: Mapping[str, str]) -> str | None:
    """Why the request does not prove it knows ``secret``, as a sentence; None when it does."""
    if provider == "gitlab":
        token = headers.get(GITLAB_TOKEN_HEADER)
        if not token:
            return f"The {GITLAB_TOKEN_HEADER} header is missing."
        same = hmac.compare_digest(token.encode(), secret.encode())
        return None if same else f"The {GITLAB_TOKEN_HEADER} header does not match the trigger's secret."
    return signature_problem(secret, body, headers.get(SIGNATURE_HEADER))


def signature_problem(secret: str, body: bytes, header: str | None) -> str | None:
    """Check ``X-Hub-Signature-256`` (HMAC-SHA256 of the raw body); a sentence when it fails."""
    if not header:
        return f"The {SIGNATURE_HEADER} signature is missing."
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if hmac.compare_digest(expected.encode(), header.strip().lower().encode()):
        return None
    return f"The {SIGNATURE_HEADER} signature is invalid."


def sign(secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value a sender computes (for tests and the README's curl line)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
