"""Typed helpers that read Spinweb's settings from the environment.

Every helper returns a working default when the variable is unset and raises
``ImproperlyConfigured`` with a sentence naming the variable when its value is wrong,
so a bad value stops the process at start instead of misbehaving later.
"""

from __future__ import annotations

import os
import re
import secrets
import zoneinfo
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(f"{name} must be 1 or 0 (or true/false, yes/no, on/off), not {raw!r}.")


def env_int(name: str, default: int, minimum: int = 0, maximum: int = 1_000_000) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}.") from None
    if not minimum <= value <= maximum:
        raise ImproperlyConfigured(f"{name} must be between {minimum} and {maximum}, not {value}.")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = env_str(name, default).upper() or default
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, not {value!r}.")
    return value


def time_zone(name: str, default: str) -> str:
    value = env_str(name, default) or default
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ImproperlyConfigured(
            f"{name} must be an IANA time zone such as UTC or Europe/Paris, not {value!r}."
        ) from None
    return value


def data_dir(base_dir: Path) -> Path:
    """The folder for the SQLite file and the generated secret key, created on first use."""
    path = Path(env_str("SPINWEB_DATA_DIR", str(base_dir / "data"))).expanduser().resolve()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ImproperlyConfigured(f"SPINWEB_DATA_DIR {str(path)!r} cannot be created: {exc.strerror}.") from None
    if not os.access(path, os.W_OK):
        raise ImproperlyConfigured(f"SPINWEB_DATA_DIR {str(path)!r} is not writable.")
    return path


def secret_key(folder: Path) -> str:
    """SPINWEB_SECRET_KEY, else a key generated once and kept in the data folder (mode 0600)."""
    configured = env_str("SPINWEB_SECRET_KEY", "")
    if configured:
        if len(configured) < 32:
            raise ImproperlyConfigured("SPINWEB_SECRET_KEY must be at least 32 characters long.")
        return configured
    path = folder / "secret_key"
    if path.exists():
        key = path.read_text().strip()
        if len(key) >= 32:
            return key
        raise ImproperlyConfigured(
            f"The secret key file {str(path)!r} is shorter than 32 characters; delete it to make a new one."
        )
    key = secrets.token_urlsafe(50)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key


# The web server and every worker write to one SQLite file. A transaction takes the write lock
# when it begins (IMMEDIATE), so a writer waits its turn (up to the timeout) instead of failing
# with "database is locked" when two read-then-write transactions meet; WAL lets pages read
# while a worker writes.
SQLITE: dict[str, Any] = {
    "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20, "init_command": "PRAGMA journal_mode=WAL;"}
}


def database(folder: Path) -> dict[str, Any]:
    """DATABASE_URL (PostgreSQL or SQLite), else a SQLite file in the data folder."""
    raw = env_str("DATABASE_URL", "")
    if not raw:
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": str(folder / "spinweb.sqlite3"), **SQLITE}
    scheme = urlsplit(raw).scheme
    if scheme not in {"postgres", "postgresql", "pgsql", "sqlite"}:
        raise ImproperlyConfigured(
            f"DATABASE_URL must start with postgres:// or sqlite://, not {scheme + '://' if scheme else repr(raw)}."
        )
    config: dict[str, Any] = dict(dj_database_url.parse(raw, conn_max_age=60, conn_health_checks=True))
    if scheme != "sqlite" and not config.get("NAME"):
        raise ImproperlyConfigured("DATABASE_URL must name a database, e.g. postgres://user@host:5432/spinweb.")
    return {**config, **SQLITE} if scheme == "sqlite" else config


def redis_url() -> str:
    """REDIS_URL when set (validated), else an empty string meaning the ORM broker."""
    raw = env_str("REDIS_URL", "")
    if not raw:
        return ""
    parts = urlsplit(raw)
    if parts.scheme not in {"redis", "rediss", "unix"}:
        raise ImproperlyConfigured(f"REDIS_URL must start with redis://, rediss:// or unix://, not {raw!r}.")
    if parts.scheme != "unix" and not parts.hostname:
        raise ImproperlyConfigured(f"REDIS_URL must name a host, e.g. redis://127.0.0.1:6379/0, not {raw!r}.")
    try:
        _ = parts.port
    except ValueError:
        raise ImproperlyConfigured(f"REDIS_URL has an invalid port: {raw!r}.") from None
    return raw


def q_cluster(redis: str, workers: int, timeout: int, name: str = "spinweb") -> dict[str, Any]:
    """django-q2 settings: the ORM broker by default, Redis when REDIS_URL is set."""
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", name):
        raise ImproperlyConfigured(f"SPINWEB_QUEUE_NAME may hold letters, digits, '.', '_' and '-' only, not {name!r}.")
    config: dict[str, Any] = {
        "name": name,
        "workers": workers,
        "timeout": timeout,
        "retry": timeout + 30,
        "max_attempts": 1,
        "catch_up": False,
        "save_limit": 1000,
        "label": "Task queue",
    }
    if redis:
        config["redis"] = redis
    else:
        config["orm"] = "default"
        config["poll"] = 0.5
    return config


def port_range(name: str, default: str) -> tuple[int, int]:
    """``LOW-HIGH`` TCP ports, 1024 < LOW <= HIGH < 65536, with at least 10 ports."""
    raw = env_str(name, default) or default
    low, _, high = raw.partition("-")
    if not (low.strip().isdigit() and high.strip().isdigit()):
        raise ImproperlyConfigured(f"{name} must be a port range like 20000-29999, not {raw!r}.")
    first, last = int(low), int(high)
    if not (1024 < first <= last < 65536) or last - first < 9:
        raise ImproperlyConfigured(f"{name} must be at least 10 ports between 1025 and 65535, not {raw!r}.")
    return first, last


def opa_url() -> str:
    """OPA_URL when set (http(s)://host:port, optionally ending in /v1), else "" (embedded Rego)."""
    raw = env_str("OPA_URL", "").rstrip("/")
    if not raw:
        return ""
    parts = urlsplit(raw)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ImproperlyConfigured(f"OPA_URL must look like http://127.0.0.1:8181, not {raw!r}.")
    try:
        _ = parts.port
    except ValueError:
        raise ImproperlyConfigured(f"OPA_URL has an invalid port: {raw!r}.") from None
    return raw


def http_url(name: str) -> str:
    """An optional http(s)://host[:port][/path] URL without a trailing slash, else ""."""
    raw = env_str(name, "").rstrip("/")
    if not raw:
        return ""
    parts = urlsplit(raw)
    try:
        _ = parts.port
    except ValueError:
        raise ImproperlyConfigured(f"{name} has an invalid port: {raw!r}.") from None
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ImproperlyConfigured(f"{name} must look like http://127.0.0.1:9090, not {raw!r}.")
    return raw


def policy_hooks(name: str) -> list[str]:
    """A comma-separated list of policy hook names (save, execution, stage, task, deployment, authz)."""
    from policies.hooks import Hook

    known = [hook.value for hook in Hook]
    values = [value.lower() for value in env_list(name, [])]
    unknown = [value for value in values if value not in known]
    if unknown:
        raise ImproperlyConfigured(
            f"{name} may only name the hooks {', '.join(known)}, not {', '.join(repr(u) for u in unknown)}."
        )
    return sorted(set(values), key=known.index)


def path_prefixes(name: str) -> list[str]:
    """A comma-separated list of URL path prefixes, each starting with "/"."""
    values = env_list(name, [])
    bad = [value for value in values if not value.startswith("/")]
    if bad:
        raise ImproperlyConfigured(f"{name} must list URL paths starting with '/', not {bad[0]!r}.")
    return values
