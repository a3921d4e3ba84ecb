from django.urls import path

from clouds import views

app_name = "clouds"
urlpatterns = [
    path("<str:name>/clusters/", views.clusters_page, name="clusters"),
    path("<str:name>/clusters/live/", views.clusters_live, name="clusters_live"),
    path("<str:name>/clusters/traffic/", views.clusters_traffic, name="clusters_traffic"),
    path(
        "<str:name>/clusters/server-groups/<int:server_group_id>/<str:operation>/",
        views.server_group_action,
        name="server_group_action",
    ),
    path(
        "<str:name>/clusters/<int:cluster_id>/<str:region>/<str:operation>/",
        views.cluster_action,
        name="cluster_action",
    ),
]
