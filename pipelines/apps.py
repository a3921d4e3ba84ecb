from importlib import import_module

from django.apps import AppConfig
from django.conf import settings


class PipelinesConfig(AppConfig):
    name = "pipelines"
    verbose_name = "Pipelines"

    def ready(self) -> None:
        # Stage and task types register themselves when their modules are imported.
        import_module("pipelines.stages")
        for module in settings.SPINWEB_EXTRA_STAGE_MODULES:
            import_module(module)
        import_module("pipelines.signals")
        # Pipeline-completion triggers listen to execution_finished.
        import_module("pipelines.triggers.completion")
