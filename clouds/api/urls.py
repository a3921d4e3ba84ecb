from rest_framework.routers import DefaultRouter

from clouds.api.views import (
    AccountViewSet,
    ClusterViewSet,
    LoadBalancerViewSet,
    OrchestrationViewSet,
    ServerGroupViewSet,
)

router = DefaultRouter()
router.include_root_view = False
router.register("accounts", AccountViewSet, basename="account")
router.register("clusters", ClusterViewSet, basename="cluster")
router.register("server-groups", ServerGroupViewSet, basename="server-group")
router.register("load-balancers", LoadBalancerViewSet, basename="load-balancer")
router.register("orchestrations", OrchestrationViewSet, basename="orchestration")

urlpatterns = router.urls
