from django.urls import path

from applications import views

app_name = "applications"
urlpatterns = [
    path("", views.application_list, name="list"),
    path("new/", views.application_create, name="create"),
    path("<str:name>/", views.application_detail, name="detail"),
    path("<str:name>/edit/", views.application_edit, name="edit"),
    path("<str:name>/delete/", views.application_delete, name="delete"),
]
