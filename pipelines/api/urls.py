from django.urls import path
from rest_framework.routers import DefaultRouter

from pipelines.api.views import ExecutionViewSet, PipelineViewSet
from pipelines.triggers import webhooks
from pipelines.triggers.api import TriggerEvaluationViewSet

router = DefaultRouter()
router.include_root_view = False
router.register("pipelines", PipelineViewSet, basename="pipeline")
router.register("executions", ExecutionViewSet, basename="execution")
router.register("trigger-evaluations", TriggerEvaluationViewSet, basename="trigger-evaluation")

urlpatterns = [
    *router.urls,
    # No login: the triggers they fire decide who may (see pipelines.triggers.webhooks).
    path("webhooks/git/<str:provider>", webhooks.git_webhook, name="git-webhook"),
    path("webhooks/<str:source>", webhooks.webhook, name="webhook"),
]
