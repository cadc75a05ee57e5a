from django.urls import path

from . import api

urlpatterns = [
    path("shops/", api.ShopListApi.as_view(), name="shop-list"),
    path("shops/<str:handle>/", api.ShopDetailApi.as_view(), name="shop-detail"),
    path("products/", api.ProductListApi.as_view(), name="product-list"),
    path("products/<int:pk>/", api.ProductDetailApi.as_view(), name="product-detail"),
    path("products/<int:pk>/variants/", api.VariantCreateApi.as_view(), name="variant-create"),
    path("products/<int:pk>/images/", api.ImageCreateApi.as_view(), name="image-create"),
    path("variants/<int:pk>/", api.VariantDetailApi.as_view(), name="variant-detail"),
    path("images/<int:pk>/", api.ImageDetailApi.as_view(), name="image-detail"),
    path("seller/products/", api.SellerProductListApi.as_view(), name="seller-products"),
]
