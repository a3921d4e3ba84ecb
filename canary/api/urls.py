from rest_framework.routers import DefaultRouter

from canary.api.runs import CanaryRunViewSet
from canary.api.views import CanaryConfigViewSet

router = DefaultRouter()
router.include_root_view = False
router.register("canary-configs", CanaryConfigViewSet, basename="canary-config")
router.register("canary-runs", CanaryRunViewSet, basename="canary-run")

urlpatterns = router.urls
