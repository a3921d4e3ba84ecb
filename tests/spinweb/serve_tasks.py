"""Tasks the ``serve`` tests run on the real worker (imported by the worker process)."""

from __future__ import annotations

from django.conf import settings

from clouds.providers.local.runtime.client import SupervisorClient


def start_local_supervisor() -> int | None:
    """What a deploy does first: make sure the local provider's supervisor runs; its pid."""
    client = SupervisorClient(settings.SPINWEB_LOCAL_HOME, settings.SPINWEB_LOCAL_PORTS)
    client.ensure_running()
    return client.state().supervisor_pid
