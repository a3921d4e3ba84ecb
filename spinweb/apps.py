from django.apps import AppConfig


class SpinwebConfig(AppConfig):
    name = "spinweb"
    verbose_name = "Spinweb"
