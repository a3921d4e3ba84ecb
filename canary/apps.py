from importlib import import_module

from django.apps import AppConfig


class CanaryConfig(AppConfig):
    name = "canary"
    verbose_name = "Canary analysis"

    def ready(self) -> None:
        # The kayentaCanary stage and its tasks register themselves with the engine when imported.
        for module in ("canary.stage", "canary.deploy_tasks", "canary.analysis"):
            import_module(module)
