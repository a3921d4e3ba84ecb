"""API tokens (django-rest-knox): created with HTTP Basic, stored hashed, revocable, audited."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from knox.crypto import hash_token
from knox.models import AuthToken
from knox.settings import CONSTANTS
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from applications.models import Application
from spinweb.models import AuditEvent
from tests.conftest import PASSWORD

TOKEN_URL = "/api/v1/auth/token/"
REVOKE_URL = "/api/v1/auth/token/revoke/"


def basic(username: str, password: str) -> APIClient:
    client = APIClient()
    encoded = base64.b64encode(f"{username}:{password}".encode()).decode()
    client.credentials(HTTP_AUTHORIZATION=f"Basic {encoded}")
    return client


def with_token(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def create_token(user: User) -> str:
    response = basic(user.username, PASSWORD).post(TOKEN_URL)
    assert response.status_code == 200, response.content
    return str(response.json()["token"])


def test_it_creates_a_token_with_http_basic(developer: User, settings: Settings) -> None:
    before = timezone.now()

    response = basic("developer", PASSWORD).post(TOKEN_URL)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["token"].startswith("spw_")
    assert len(body["token"]) > 40
    expiry = AuthToken.objects.get(user=developer).expiry
    assert expiry is not None
    assert abs(expiry - (before + settings.REST_KNOX["TOKEN_TTL"])) < timedelta(minutes=1)
    assert parse_datetime(body["expiry"]) == expiry


def test_it_authenticates_api_calls_with_the_token(developer: User, shop: Application) -> None:
    token = create_token(developer)

    response = with_token(token).get("/api/v1/applications/")

    assert response.status_code == 200
    assert [row["name"] for row in response.json()["results"]] == ["shop"]
    assert response.json()["results"][0]["access"] == ["READ", "WRITE", "EXECUTE"]


def test_it_stores_only_a_digest_of_the_token(developer: User) -> None:
    token = create_token(developer)

    rows = list(AuthToken.objects.values())
    assert len(rows) == 1
    assert token not in json.dumps(rows, default=str)
    assert rows[0]["digest"] == hash_token(token)


def test_it_refuses_a_revoked_token(developer: User) -> None:
    token = create_token(developer)
    client = with_token(token)

    revoke = client.post(REVOKE_URL)

    assert revoke.status_code == 204
    assert not AuthToken.objects.exists()
    assert client.get("/api/v1/applications/").status_code == 401


def test_it_revokes_only_the_token_used(developer: User) -> None:
    first, second = create_token(developer), create_token(developer)

    with_token(first).post(REVOKE_URL)

    assert with_token(first).get("/api/v1/applications/").status_code == 401
    assert with_token(second).get("/api/v1/applications/").status_code == 200


def test_it_refuses_an_expired_token(developer: User) -> None:
    token = create_token(developer)
    AuthToken.objects.update(expiry=timezone.now() - timedelta(seconds=1))

    assert with_token(token).get("/api/v1/applications/").status_code == 401


def test_it_refuses_the_token_of_a_deactivated_user(developer: User) -> None:
    token = create_token(developer)
    developer.is_active = False
    developer.save()

    assert with_token(token).get("/api/v1/applications/").status_code == 401


def test_it_creates_a_token_for_a_logged_in_browser_with_its_csrf_token(developer: User) -> None:
    browser = Client(enforce_csrf_checks=True)
    browser.get("/login/")  # the login form sets the CSRF cookie
    browser.force_login(developer)

    response = browser.post(TOKEN_URL, HTTP_X_CSRFTOKEN=browser.cookies["csrftoken"].value)

    assert response.status_code == 200, response.content
    assert AuthToken.objects.filter(user=developer).count() == 1


def test_it_refuses_a_cross_site_request_riding_on_a_session(developer: User) -> None:
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(developer)

    response = browser.post(TOKEN_URL)

    assert response.status_code == 403
    assert not AuthToken.objects.exists()
    assert not AuditEvent.objects.exists()


def test_it_refuses_a_made_up_token(developer: User) -> None:
    assert with_token("spw_" + "0" * 64).get("/api/v1/applications/").status_code == 401


def test_it_refuses_a_wrong_password(developer: User) -> None:
    response = basic("developer", "not-the-password").post(TOKEN_URL)

    assert response.status_code == 401
    assert "token" not in response.json()
    assert not AuthToken.objects.exists()
    assert not AuditEvent.objects.exists()


def test_it_refuses_a_caller_without_credentials(developer: User) -> None:
    response = APIClient().post(TOKEN_URL)

    assert response.status_code == 401
    assert not AuthToken.objects.exists()


def test_it_refuses_an_inactive_user(developer: User) -> None:
    developer.is_active = False
    developer.save()

    response = basic("developer", PASSWORD).post(TOKEN_URL)

    assert response.status_code == 401
    assert not AuthToken.objects.exists()


def test_it_audits_token_creation(developer: User) -> None:
    token = create_token(developer)

    event = AuditEvent.objects.get()
    assert event.action == "token_create"
    assert event.source == "api"
    assert event.actor == developer
    assert event.actor_name == "developer"
    assert "expires" in event.detail
    assert token not in json.dumps(list(AuditEvent.objects.values()), default=str)


def test_it_writes_a_token_audit_event_that_fits_its_columns(developer: User) -> None:
    """SQLite ignores varchar lengths; PostgreSQL refuses the row and the token request fails."""
    create_token(developer)

    event = AuditEvent.objects.get()
    for name in ("actor_name", "source", "action", "object_type", "object_id", "object_repr", "application"):
        limit = getattr(AuditEvent._meta.get_field(name), "max_length", None)
        assert isinstance(limit, int)
        value = getattr(event, name)
        assert len(value) <= limit, f"{name} is {len(value)} characters; the column holds {limit}"


def test_it_audits_revoking_a_token(developer: User) -> None:
    token = create_token(developer)
    assert with_token(token).post(REVOKE_URL).status_code == 204

    event = AuditEvent.objects.get(action="token_revoke")
    assert event.actor == developer
    assert event.detail == f"API token {token[: CONSTANTS.TOKEN_KEY_LENGTH]}… revoked"


def test_it_audits_revoking_every_token(developer: User) -> None:
    first, _second = create_token(developer), create_token(developer)
    assert with_token(first).post("/api/v1/auth/token/revoke-all/").status_code == 204

    assert not AuthToken.objects.filter(user=developer).exists()
    assert AuditEvent.objects.get(action="token_revoke").detail == "all 2 API tokens revoked"
