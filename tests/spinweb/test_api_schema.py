"""The OpenAPI schema and the Swagger UI page that renders it, served from our own static files."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.contrib.staticfiles import finders

from tests.conftest import api_as, browser_as

SCHEMA = "/api/v1/schema/"
DOCS = "/api/v1/docs/"
CDN_HOSTS = ["cdn.jsdelivr.net", "unpkg.com", "cdnjs.cloudflare.com", "fonts.googleapis.com"]


@pytest.fixture
def schema(developer: User) -> dict[str, Any]:
    response = api_as(developer).get(SCHEMA, {"format": "json"})
    assert response.status_code == 200, response.content
    return dict(response.json())


def test_it_serves_openapi_3(schema: dict[str, Any]) -> None:
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "Spinweb API"


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/applications/",
        "/api/v1/applications/{name}/",
        "/api/v1/accounts/",
        "/api/v1/accounts/{name}/",
        "/api/v1/clusters/",
        "/api/v1/clusters/{id}/",
        "/api/v1/server-groups/",
        "/api/v1/server-groups/{id}/",
        "/api/v1/load-balancers/",
        "/api/v1/load-balancers/{id}/",
        "/api/v1/audit-events/",
        "/api/v1/audit-events/{id}/",
    ],
)
def test_it_lists_every_resource(schema: dict[str, Any], path: str) -> None:
    assert path in schema["paths"]


@pytest.mark.parametrize("path", ["/api/v1/auth/token/", "/api/v1/auth/token/revoke/"])
def test_it_documents_how_to_get_and_revoke_a_token(schema: dict[str, Any], path: str) -> None:
    assert "post" in schema["paths"].get(path, {}), f"{path} is missing from the schema"


def test_it_lists_only_reads_for_inventory_and_audit(schema: dict[str, Any]) -> None:
    for path in ["/api/v1/clusters/", "/api/v1/server-groups/", "/api/v1/load-balancers/", "/api/v1/audit-events/"]:
        assert set(schema["paths"][path]) == {"get"}, path


def test_it_lists_writes_for_applications(schema: dict[str, Any]) -> None:
    assert set(schema["paths"]["/api/v1/applications/"]) == {"get", "post"}
    assert {"get", "put", "patch", "delete"} <= set(schema["paths"]["/api/v1/applications/{name}/"])


def test_it_serves_yaml_by_default(developer: User) -> None:
    response = api_as(developer).get(SCHEMA)

    assert response.status_code == 200
    assert response.content.decode().startswith("openapi: 3.")


def test_it_refuses_the_schema_to_anonymous_callers(db: None) -> None:
    assert api_as(None).get(SCHEMA).status_code == 401


def test_it_renders_swagger_ui(developer: User) -> None:
    response = browser_as(developer).get(DOCS)

    assert response.status_code == 200
    page = response.content.decode()
    assert "swagger-ui" in page.lower()
    assert SCHEMA in page


def test_it_loads_swagger_ui_from_our_own_static_files(developer: User) -> None:
    page = browser_as(developer).get(DOCS).content.decode()

    for host in CDN_HOSTS:
        assert host not in page, f"the docs page loads from {host}"
    assets = re.findall(r"""(?:src|href)=["']([^"']+\.(?:js|css|png))["']""", page)
    assert any(asset.endswith("swagger-ui-bundle.js") for asset in assets), assets
    for asset in assets:
        assert asset.startswith("/static/"), asset
        assert finders.find(asset.removeprefix("/static/")) is not None, f"{asset} is not among our static files"


def test_it_serves_the_swagger_ui_bundle(developer: User) -> None:
    page = browser_as(developer).get(DOCS).content.decode()
    bundle = next(src for src in re.findall(r"""src=["']([^"']+)["']""", page) if src.endswith("swagger-ui-bundle.js"))

    response = browser_as(developer).get(bundle)

    assert response.status_code == 200
    content = response.getvalue()
    assert b"SwaggerUIBundle" in content
