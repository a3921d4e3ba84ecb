from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from spinweb.api.views import AuditEventViewSet, TokenCreateView, TokenRevokeAllView, TokenRevokeView

router = DefaultRouter()
router.include_root_view = False
router.register("audit-events", AuditEventViewSet, basename="audit-event")

urlpatterns = [
    path("", include("applications.api.urls")),
    path("", include("clouds.api.urls")),
    path("", include("policies.api.urls")),
    path("", include("pipelines.api.urls")),
    path("", include("canary.api.urls")),
    path("", include(router.urls)),
    path("auth/token/", TokenCreateView.as_view(), name="token-create"),
    path("auth/token/revoke/", TokenRevokeView.as_view(), name="token-revoke"),
    path("auth/token/revoke-all/", TokenRevokeAllView.as_view(), name="token-revoke-all"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
]
