"""The merchant center, mounted at /seller/."""

from django.urls import path

from . import import_views, seller_views

app_name = "seller"

urlpatterns = [
    path("", seller_views.SellerHomeView.as_view(), name="home"),
    path("products/", seller_views.ProductListView.as_view(), name="products"),
    path("low-stock/", seller_views.LowStockView.as_view(), name="low_stock"),
    path("import/", import_views.ImportView.as_view(), name="import"),
    path("export.csv", import_views.ExportView.as_view(), name="export"),
]
