from django.urls import path

from pipelines import editor_views, execution_list_views, pipeline_views, version_views, views
from pipelines.triggers import views as trigger_views

app_name = "pipelines"
urlpatterns = [
    path("<str:name>/pipelines/", pipeline_views.pipeline_list, name="list"),
    path("<str:name>/pipelines/<uuid:pipeline_id>/run/", pipeline_views.pipeline_run, name="run"),
    path("<str:name>/pipelines/<uuid:pipeline_id>/dryrun/", pipeline_views.pipeline_dryrun, name="dryrun"),
    path("<str:name>/pipelines/rows/", pipeline_views.pipeline_rows, name="rows"),
    path("<str:name>/pipelines/new/", editor_views.pipeline_editor, name="new"),
    path("<str:name>/pipelines/new/validate/", editor_views.pipeline_validate, name="validate_new"),
    path("<str:name>/pipelines/<uuid:pipeline_id>/edit/", editor_views.pipeline_editor, name="edit"),
    path("<str:name>/pipelines/<uuid:pipeline_id>/edit/validate/", editor_views.pipeline_validate, name="validate"),
    path("<str:name>/pipelines/<uuid:pipeline_id>/versions/", version_views.pipeline_versions, name="versions"),
    path(
        "<str:name>/pipelines/<uuid:pipeline_id>/versions/<int:version>/",
        version_views.pipeline_version_diff,
        name="version_diff",
    ),
    path(
        "<str:name>/pipelines/<uuid:pipeline_id>/versions/<int:version>/restore/",
        version_views.pipeline_restore,
        name="restore",
    ),
    path("<str:name>/pipelines/<uuid:pipeline_id>/delete/", version_views.pipeline_delete, name="delete"),
    path("<str:name>/executions/", execution_list_views.execution_list, name="executions"),
    path("<str:name>/triggers/", trigger_views.trigger_page, name="triggers"),
    path("<str:name>/executions/<uuid:execution_id>/", views.execution_detail, name="execution"),
    # Before "action": "live" would otherwise read as a verb.
    path("<str:name>/executions/<uuid:execution_id>/live/", views.execution_live, name="execution_live"),
    path("<str:name>/executions/<uuid:execution_id>/stages/<uuid:stage_id>/", views.stage_detail, name="stage_detail"),
    path("<str:name>/executions/<uuid:execution_id>/<str:verb>/", views.execution_action, name="action"),
]
