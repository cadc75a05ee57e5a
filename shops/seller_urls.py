"""The merchant center, mounted at /seller/."""

from django.urls import path

from . import import_views, seller_views

app_name = "seller"

urlpatterns = [
    path("", seller_views.SellerHomeView.as_view(), name="home"),
    path("open/", seller_views.ShopOpenView.as_view(), name="shop_open"),
    path("settings/", seller_views.ShopSettingsView.as_view(), name="shop_settings"),
    path("products/", seller_views.ProductListView.as_view(), name="products"),
    path("products/new/", seller_views.ProductCreateView.as_view(), name="product_new"),
    path("products/<int:pk>/", seller_views.ProductEditView.as_view(), name="product_edit"),
    path(
        "products/<int:pk>/images/",
        seller_views.ProductImagesView.as_view(),
        name="product_images",
    ),
    path(
        "images/<int:pk>/delete/",
        seller_views.ProductImageDeleteView.as_view(),
        name="product_image_delete",
    ),
    path(
        "images/<int:pk>/move/",
        seller_views.ProductImageMoveView.as_view(),
        name="product_image_move",
    ),
    path("variants/<int:pk>/stock/", seller_views.VariantStockView.as_view(), name="variant_stock"),
    path(
        "variants/<int:pk>/delete/",
        seller_views.VariantDeleteView.as_view(),
        name="variant_delete",
    ),
    path("low-stock/", seller_views.LowStockView.as_view(), name="low_stock"),
    path("import/", import_views.ImportView.as_view(), name="import"),
    path("export.csv", import_views.ExportView.as_view(), name="export"),
]
