from importlib import import_module

from django.apps import AppConfig


class CloudsConfig(AppConfig):
    name = "clouds"
    verbose_name = "Clouds"

    def ready(self) -> None:
        # The cluster stage types register themselves with the engine when imported.
        import_module("clouds.stages")
