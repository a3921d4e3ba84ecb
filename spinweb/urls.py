from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

from spinweb import views

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="applications:list", permanent=False), name="home"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("healthz", views.healthz, name="healthz"),
    path("applications/", include("applications.urls")),
    path("applications/", include("pipelines.urls")),
    path("applications/", include("clouds.urls")),
    path("applications/", include("canary.urls")),
    path("policies/", include("policies.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include(("spinweb.api.urls", "api"), namespace="api")),
]
