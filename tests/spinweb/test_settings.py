"""Settings come from the environment, with working defaults and one-sentence errors."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from spinweb import env

ROOT = Path(__file__).resolve().parents[2]
SPINWEB_VARS = ("DATABASE_URL", "REDIS_URL", "SPINWEB_")


def clean_env(data_dir: Path, **extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(SPINWEB_VARS) and k != "DJANGO_SETTINGS_MODULE"}
    return {**base, "SPINWEB_DATA_DIR": str(data_dir), **extra}


def run_manage(data_dir: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=clean_env(data_dir, **extra),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


SHOW = (
    "from django.conf import settings as s; import json; d = s.DATABASES['default']; "
    "print(json.dumps({'debug': s.DEBUG, 'db': d['ENGINE'], 'name': str(d['NAME']), 'q': s.Q_CLUSTER}))"
)


def test_it_runs_on_embedded_defaults_with_no_environment(tmp_path: Path) -> None:
    result = run_manage(tmp_path, "shell", "-c", SHOW)
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout.strip().splitlines()[-1])
    assert shown["debug"] is False
    assert shown["db"] == "django.db.backends.sqlite3"
    assert shown["name"] == str(tmp_path / "spinweb.sqlite3")
    assert shown["q"]["orm"] == "default"
    assert "redis" not in shown["q"]
    key_file = tmp_path / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    first_key = key_file.read_text()
    assert run_manage(tmp_path, "check").returncode == 0
    assert key_file.read_text() == first_key, "The secret key must persist across starts."


def test_it_switches_to_postgresql_and_redis_from_urls(tmp_path: Path) -> None:
    result = run_manage(
        tmp_path,
        "shell",
        "-c",
        SHOW,
        SPINWEB_DEBUG="1",
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/spinweb",
        REDIS_URL="redis://127.0.0.1:6379/3",
    )
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout.strip().splitlines()[-1])
    assert shown["debug"] is True
    assert shown["db"] == "django.db.backends.postgresql"
    assert shown["name"] == "spinweb"
    assert shown["q"]["redis"] == "redis://127.0.0.1:6379/3"
    assert "orm" not in shown["q"]


@pytest.mark.parametrize(
    ("variable", "value", "sentence"),
    [
        ("DATABASE_URL", "mysql://root@localhost/spinweb", "DATABASE_URL must start with postgres:// or sqlite://"),
        ("DATABASE_URL", "postgres://postgres@127.0.0.1:5432", "DATABASE_URL must name a database"),
        ("REDIS_URL", "http://127.0.0.1:6379", "REDIS_URL must start with redis://"),
        ("REDIS_URL", "redis://127.0.0.1:port/0", "REDIS_URL has an invalid port"),
        ("SPINWEB_DEBUG", "maybe", "SPINWEB_DEBUG must be 1 or 0"),
        ("SPINWEB_WORKERS", "many", "SPINWEB_WORKERS must be a whole number"),
        ("SPINWEB_WORKERS", "0", "SPINWEB_WORKERS must be between 1 and 256"),
        ("SPINWEB_TIME_ZONE", "Mars/Olympus", "SPINWEB_TIME_ZONE must be an IANA time zone"),
        ("SPINWEB_SECRET_KEY", "short", "SPINWEB_SECRET_KEY must be at least 32 characters"),
        ("SPINWEB_LOG_LEVEL", "chatty", "SPINWEB_LOG_LEVEL must be one of DEBUG, INFO"),
        ("SPINWEB_QUEUE_NAME", "my queue", "SPINWEB_QUEUE_NAME may hold letters, digits"),
    ],
)
def test_it_refuses_to_start_on_a_bad_value(tmp_path: Path, variable: str, value: str, sentence: str) -> None:
    result = run_manage(tmp_path, "check", **{variable: value})
    assert result.returncode != 0
    assert f"Spinweb cannot start: {sentence}" in result.stderr
    assert "Traceback" not in result.stderr


def test_it_says_when_the_data_folder_cannot_be_made(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = run_manage(blocker / "data", "check")
    assert result.returncode != 0
    assert "SPINWEB_DATA_DIR" in result.stderr
    assert "cannot be created" in result.stderr


def test_it_reads_lists_and_booleans(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPINWEB_ALLOWED_HOSTS", " spinweb.example.com, ,localhost ")
    assert env.env_list("SPINWEB_ALLOWED_HOSTS", []) == ["spinweb.example.com", "localhost"]
    monkeypatch.setenv("SPINWEB_DEBUG", "Yes")
    assert env.env_bool("SPINWEB_DEBUG") is True
    monkeypatch.setenv("SPINWEB_DEBUG", "off")
    assert env.env_bool("SPINWEB_DEBUG") is False


def test_it_keeps_a_configured_secret_key_out_of_the_data_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPINWEB_SECRET_KEY", "k" * 40)
    assert env.secret_key(tmp_path) == "k" * 40
    assert not (tmp_path / "secret_key").exists()


def test_it_rejects_a_truncated_secret_key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPINWEB_SECRET_KEY", raising=False)
    (tmp_path / "secret_key").write_text("abc\n")
    with pytest.raises(ImproperlyConfigured, match="shorter than 32 characters"):
        env.secret_key(tmp_path)


@pytest.mark.parametrize("value", ["20000", "abc-def", "80-90", "30000-20000", "20000-20005", "60000-70000"])
def test_it_refuses_a_bad_local_port_range(tmp_path: Path, value: str) -> None:
    result = run_manage(tmp_path, "check", SPINWEB_LOCAL_PORTS=value)
    assert result.returncode != 0
    assert "SPINWEB_LOCAL_PORTS must be" in result.stderr
