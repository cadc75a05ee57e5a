from django.urls import path

from . import views

app_name = "streams"

urlpatterns = [
    path("live/<int:pk>", views.LiveView.as_view(), name="live"),
    path("live/<int:pk>/remind", views.ReminderView.as_view(), name="remind"),
    path("live/<int:pk>/embed/", views.EmbedView.as_view(), name="embed"),
    path("studio/", views.StudioView.as_view(), name="studio"),
    path("studio/<int:pk>/", views.ConsoleView.as_view(), name="console"),
]
