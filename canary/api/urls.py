from rest_framework.routers import DefaultRouter

from canary.api.views import CanaryConfigViewSet

router = DefaultRouter()
router.include_root_view = False
router.register("canary-configs", CanaryConfigViewSet, basename="canary-config")

urlpatterns = router.urls
