from typing import Any

from django.apps import AppConfig
from django.db import DEFAULT_DB_ALIAS
from django.db.models.signals import post_migrate


class PoliciesConfig(AppConfig):
    name = "policies"
    verbose_name = "Policies"

    def ready(self) -> None:
        from policies import signals

        signals.connect()
        post_migrate.connect(install_starters, sender=self, dispatch_uid="policies.install_starters")


def install_starters(sender: AppConfig, using: str = DEFAULT_DB_ALIAS, **kwargs: Any) -> None:
    """After ``migrate``: the starter-library policies not installed yet, created disabled.

    ``flush`` sends post_migrate too, but without a plan; a flushed database (tests) stays empty.
    """
    if using != DEFAULT_DB_ALIAS or kwargs.get("plan") is None:
        return
    from policies.library import install_missing

    install_missing()
