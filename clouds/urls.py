from django.urls import path

from clouds import views

app_name = "clouds"
urlpatterns = [
    path("<str:name>/clusters/", views.clusters_page, name="clusters"),
    path("<str:name>/clusters/live/", views.clusters_live, name="clusters_live"),
    path(
        "<str:name>/clusters/server-groups/<int:server_group_id>/<str:operation>/",
        views.server_group_action,
        name="server_group_action",
    ),
]
