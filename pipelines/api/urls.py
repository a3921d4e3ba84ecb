from rest_framework.routers import DefaultRouter

from pipelines.api.views import ExecutionViewSet, PipelineViewSet

router = DefaultRouter()
router.include_root_view = False
router.register("pipelines", PipelineViewSet, basename="pipeline")
router.register("executions", ExecutionViewSet, basename="execution")

urlpatterns = router.urls
