from django.urls import path

from . import views

app_name = "shops"

urlpatterns = [
    path("shop/<str:handle>", views.ShopDetailView.as_view(), name="detail"),
    path("products/", views.ProductSearchView.as_view(), name="search"),
    path("products/<int:pk>", views.ProductDetailView.as_view(), name="product"),
    path("products/<int:pk>/out", views.ExternalLinkView.as_view(), name="external"),
]
