from django.urls import path

from . import views

app_name = "payments"

urlpatterns = [
    path("cards/", views.CardListView.as_view(), name="cards"),
    path("cards/<int:pk>/default", views.CardDefaultView.as_view(), name="card-default"),
    path("cards/<int:pk>/delete", views.CardDeleteView.as_view(), name="card-delete"),
]
