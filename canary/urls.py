from django.urls import path

from canary import report_views, views

app_name = "canary"
PREFIX = "<str:name>/canary-configs"
ONE = f"{PREFIX}/<uuid:config_id>"
RUNS = "<str:name>/canary-runs"
INTERVAL = f"{RUNS}/<uuid:run_id>/intervals/<int:index>"
urlpatterns = [
    path(f"{PREFIX}/", views.config_list, name="list"),
    path(f"{PREFIX}/new/", views.config_editor, name="new"),
    path(f"{PREFIX}/new/validate/", views.config_validate, name="validate_new"),
    path(f"{ONE}/edit/", views.config_editor, name="edit"),
    path(f"{ONE}/edit/validate/", views.config_validate, name="validate"),
    path(f"{ONE}/export/", views.config_export, name="export"),
    path(f"{ONE}/versions/", views.config_versions, name="versions"),
    path(f"{ONE}/versions/<int:version>/", views.config_version_diff, name="version_diff"),
    path(f"{ONE}/versions/<int:version>/restore/", views.config_restore, name="restore"),
    path(f"{ONE}/delete/", views.config_delete, name="delete"),
    path(f"{RUNS}/", report_views.run_list, name="runs"),
    path(f"{RUNS}/<uuid:run_id>/", report_views.run_detail, name="run"),
    path(f"{INTERVAL}/", report_views.judgment_detail, name="judgment"),
    path(f"{INTERVAL}/replay/", report_views.judgment_replay, name="replay"),
]
