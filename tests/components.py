"""Tests that need a real component (Chromium, PostgreSQL, Redis) ask for it here.

Outside CI a missing component skips the test with the reason. Under ``CI=true`` the
same absence fails it: CI installs and starts everything, so a skip there would hide a
broken setup.
"""

from __future__ import annotations

import os
import shutil
import socket

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require(available: bool, reason: str) -> None:
    if available:
        return
    if in_ci():
        pytest.fail(f"CI must provide this component: {reason}")
    pytest.skip(reason)


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


CHROMIUM = os.environ.get("SPINWEB_CHROMIUM", "/usr/bin/chromium")


def require_chromium() -> str:
    path = shutil.which(CHROMIUM) or (CHROMIUM if os.access(CHROMIUM, os.X_OK) else None)
    require(path is not None, f"no Chromium at {CHROMIUM} (apt-get install chromium, or set SPINWEB_CHROMIUM)")
    assert path is not None
    return path


def require_redis() -> str:
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    require(port_open("127.0.0.1", 6379) or "REDIS_URL" in os.environ, "no Redis on 127.0.0.1:6379 (set REDIS_URL)")
    return url
