from django.urls import path

from policies import data_views, decision_views, playground_views, views

app_name = "policies"
urlpatterns = [
    path("", views.policy_list, name="list"),
    path("new/", views.policy_editor, name="new"),
    path("check/", views.policy_check, name="check"),
    path("<int:policy_id>/", views.policy_editor, name="edit"),
    path("<int:policy_id>/toggle/", views.policy_toggle, name="toggle"),
    path("<int:policy_id>/delete/", views.policy_delete, name="delete"),
    path("<int:policy_id>/versions/", views.policy_versions, name="versions"),
    path("<int:policy_id>/versions/<int:version>/", views.policy_version_diff, name="version_diff"),
    path("<int:policy_id>/versions/<int:version>/restore/", views.policy_restore, name="restore"),
    path("data/", data_views.data_list, name="data_list"),
    path("data/new/", data_views.data_edit, name="data_new"),
    path("data/<str:key>/edit/", data_views.data_edit, name="data_edit"),
    path("data/<str:key>/delete/", data_views.data_delete, name="data_delete"),
    path("playground/", playground_views.playground, name="playground"),
    path("playground/example/", playground_views.playground_example, name="playground_example"),
    path("decisions/", decision_views.decision_list, name="decisions"),
    path("decisions/<int:decision_id>/", decision_views.decision_detail, name="decision"),
]
