from rest_framework.routers import DefaultRouter

from applications.api.views import ApplicationViewSet

router = DefaultRouter()
router.include_root_view = False
router.register("applications", ApplicationViewSet, basename="application")

urlpatterns = router.urls
