"""Personas and data shared by the whole suite.

- ``admin``: a superuser.
- ``developer``: in group ``shop-devs``, which holds READ, WRITE and EXECUTE on ``shop``.
- ``viewer``: in group ``shop-viewers``, which holds READ on ``shop`` only.
- ``outsider``: in group ``blog-readers``, READ on ``blog``; nothing on ``shop``.
- ``nobody``: logged in, no groups.

The session also checks that no test left a local-runtime process running (``_no_stray_runtime_processes``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from rest_framework.test import APIClient

from applications.models import Application, ApplicationGrant
from clouds.models import Account, Cluster, LoadBalancer, ServerGroup
from clouds.providers.local.runtime.common import MARKER_ENV, ROLE_ENV, process_environment, start_ticks

# Processes of this session's tests still running this long after the last test are strays.
STRAY_GRACE_SECONDS = 10.0

PASSWORD = "correct-horse-battery-staple"


def make_user(username: str, *groups: Group, **extra: Any) -> User:
    user = User.objects.create_user(username, f"{username}@example.com", PASSWORD, **extra)
    user.groups.add(*groups)
    return user


def grant(application: Application, group: Group, *levels: str) -> None:
    for level in levels:
        ApplicationGrant.objects.create(application=application, group=group, level=level)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: Any) -> None:
    """The test database starts empty: ``migrate`` installed the starter policies (and audited
    that); the tests about the starter library install it themselves."""
    from policies.models import Policy
    from spinweb.models import AuditEvent

    with django_db_blocker.unblock():
        Policy.objects.all().delete()
        AuditEvent.objects.all().delete()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    """Every persona has a password; the production hasher would cost a quarter second each."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _own_local_home(settings: Any, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Never the real ``data/local``: a local-provider supervisor running there for a demo must
    not be read into, or changed by, a test. Tests that run a supervisor point this at theirs."""
    settings.SPINWEB_LOCAL_HOME = tmp_path_factory.mktemp("local-home")


@pytest.fixture(scope="session", autouse=True)
def _no_stray_runtime_processes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Fail the session if a test left a local-runtime process (supervisor, instance, proxy,
    traffic generator) running, naming each; they are then killed so the machine stays clean.

    A stray carries the runtime's marker (``MARKER_ENV``) pointing at a home under the system
    temp dir, where tests put their homes; a developer's demo (home under ``data/``) never
    counts. To tell this session's processes from those of another test session running on the
    same machine, the session hands its child processes a TMPDIR of its own, which the runtime
    passes on to everything it starts (``runtime.common.INHERITED_ENV``); this process's own
    temp dir is fixed before, so nothing in it moves.
    """
    roots = {Path(tempfile.gettempdir()).resolve(), Path("/tmp").resolve()}
    tag = tmp_path_factory.mktemp("child-tmp", numbered=False).resolve()
    previous = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = str(tag)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = previous
    strays = _strays_after_grace(roots, tag)
    for pid in strays:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    if strays:
        listed = "\n".join(f"  pid {pid}: {what}" for pid, what in sorted(strays.items()))
        pytest.fail(f"Tests left local-runtime processes running (now killed):\n{listed}", pytrace=False)


def _strays_after_grace(roots: set[Path], tag: Path) -> dict[int, str]:
    """Strays still there after a grace period: a supervisor told to shut down is stopping its instances."""
    deadline = time.monotonic() + STRAY_GRACE_SECONDS
    while (strays := stray_runtime_processes(roots, tag)) and time.monotonic() < deadline:
        time.sleep(0.1)  # nothing to wait on but /proc
    return strays


def stray_runtime_processes(roots: set[Path], tag: Path) -> dict[int, str]:
    """``{pid: "role of home"}`` of live runtime processes this session started with a home under ``roots``."""
    found: dict[int, str] = {}
    for entry in os.listdir("/proc") if Path("/proc/self/environ").exists() else []:
        if not entry.isdigit() or start_ticks(int(entry)) is None:
            continue
        env = dict(item.split("=", 1) for item in process_environment(int(entry)) if "=" in item)
        home = env.get(MARKER_ENV)
        if home and env.get("TMPDIR") == str(tag) and any(Path(home).is_relative_to(root) for root in roots):
            found[int(entry)] = f"{env.get(ROLE_ENV) or 'process'} of {home}"
    return found


@pytest.fixture
def groups(db: None) -> dict[str, Group]:
    names = ["shop-devs", "shop-viewers", "blog-readers"]
    return {name: Group.objects.create(name=name) for name in names}


@pytest.fixture
def shop(groups: dict[str, Group]) -> Application:
    app = Application.objects.create(name="shop", owner_email="shop@example.com", description="The shop")
    grant(app, groups["shop-devs"], "READ", "WRITE", "EXECUTE")
    grant(app, groups["shop-viewers"], "READ")
    return app


@pytest.fixture
def blog(groups: dict[str, Group]) -> Application:
    app = Application.objects.create(name="blog", owner_email="blog@example.com", description="The blog")
    grant(app, groups["blog-readers"], "READ")
    return app


@pytest.fixture
def local_account(db: None) -> Account:
    return Account.objects.create(name="local", provider="local", regions=["local"], environment="dev")


@pytest.fixture
def shop_cluster(shop: Application, local_account: Account) -> Cluster:
    cluster = Cluster.objects.create(application=shop, account=local_account, name="shop-web")
    lb = LoadBalancer.objects.create(
        application=shop, account=local_account, name="shop-web", region="local", address="127.0.0.1:8081"
    )
    group = ServerGroup.objects.create(
        cluster=cluster, name="shop-web-v003", sequence=3, region="local", artifact="shop:1.4.2", enabled=True
    )
    group.load_balancers.add(lb)
    return cluster


@pytest.fixture
def admin(db: None) -> User:
    return make_user("admin", is_superuser=True, is_staff=True)


@pytest.fixture
def developer(groups: dict[str, Group]) -> User:
    return make_user("developer", groups["shop-devs"])


@pytest.fixture
def viewer(groups: dict[str, Group]) -> User:
    return make_user("viewer", groups["shop-viewers"])


@pytest.fixture
def outsider(groups: dict[str, Group]) -> User:
    return make_user("outsider", groups["blog-readers"])


@pytest.fixture
def nobody(db: None) -> User:
    return make_user("nobody")


def api_as(user: User | None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def browser_as(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def fields_of(body: dict[str, Any]) -> list[str]:
    """The field paths named in an API error answer."""
    return [error["field"] for error in body["errors"]]


def message_for(body: dict[str, Any], field: str) -> str:
    messages = [error["message"] for error in body["errors"] if error["field"] == field]
    assert messages, f"no error for {field!r} in {body}"
    return messages[0]


def assert_sentence(message: str) -> None:
    assert message[:1].isupper(), message
    assert message.endswith("."), message
