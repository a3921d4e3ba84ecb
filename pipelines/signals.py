"""Start a sweeper thread in every django-q2 worker process, so any running cluster finds due
waits, the tasks of dead workers and due cron triggers without a separate process to deploy."""

from __future__ import annotations

import logging
import threading
from typing import Any

from django.conf import settings
from django.db import close_old_connections
from django.dispatch import receiver
from django_q.signals import post_spawn

logger = logging.getLogger(__name__)


def sweep_forever(stop: threading.Event) -> None:
    from pipelines.engine.runner import sweep
    from pipelines.triggers.scheduler import fire_due_crons

    while not stop.wait(settings.SPINWEB_SWEEP_SECONDS):
        try:
            close_old_connections()
            sweep()
        except Exception:
            logger.exception("The pipeline sweeper failed; it tries again in %s s", settings.SPINWEB_SWEEP_SECONDS)
        try:
            fire_due_crons()
        except Exception:
            logger.exception("Firing cron triggers failed; it tries again in %s s", settings.SPINWEB_SWEEP_SECONDS)


@receiver(post_spawn)
def start_sweeper(sender: Any, proc_name: str, **kwargs: Any) -> None:
    thread = threading.Thread(target=sweep_forever, args=(threading.Event(),), name="spinweb-sweeper", daemon=True)
    thread.start()
