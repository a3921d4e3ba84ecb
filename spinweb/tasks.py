"""django-q2 entry points of the project package. Thin: they call into the apps."""

from __future__ import annotations


def ping(message: str) -> str:
    """A no-op task that proves a worker is consuming the queue (used by tests and health checks)."""
    return f"pong: {message}"
