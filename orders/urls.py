from django.urls import path

from . import views

app_name = "orders"

urlpatterns = [
    path("orders/", views.OrderListView.as_view(), name="list"),
    path("orders/<int:pk>/", views.OrderDetailView.as_view(), name="detail"),
]
