from django.urls import path

from pipelines import pipeline_views, views

app_name = "pipelines"
urlpatterns = [
    path("<str:name>/pipelines/", pipeline_views.pipeline_list, name="list"),
    path("<str:name>/pipelines/<uuid:pipeline_id>/run/", pipeline_views.pipeline_run, name="run"),
    path("<str:name>/executions/<uuid:execution_id>/", views.execution_detail, name="execution"),
    path("<str:name>/executions/<uuid:execution_id>/<str:verb>/", views.execution_action, name="action"),
]
