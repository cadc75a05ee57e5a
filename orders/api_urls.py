from django.urls import path

from . import api

urlpatterns = [
    path("orders/", api.OrderListApi.as_view(), name="order-list"),
    path("orders/<int:pk>/", api.OrderDetailApi.as_view(), name="order-detail"),
    path("orders/<int:pk>/cancel/", api.OrderCancelApi.as_view(), name="order-cancel"),
    path("orders/<int:pk>/received/", api.OrderReceivedApi.as_view(), name="order-received"),
    path(
        "orders/<int:pk>/refund-request/",
        api.OrderRefundRequestApi.as_view(),
        name="order-refund-request",
    ),
    path("checkout/", api.CheckoutApi.as_view(), name="checkout"),
    path("addresses/", api.AddressListApi.as_view(), name="address-list"),
    path("addresses/<int:pk>/", api.AddressDetailApi.as_view(), name="address-detail"),
    path("addresses/<int:pk>/default/", api.AddressDefaultApi.as_view(), name="address-default"),
    path("bag/", api.BagApi.as_view(), name="bag"),
    path("bag/<int:pk>/", api.BagItemApi.as_view(), name="bag-item"),
    path("shop/orders/", api.ShopOrderListApi.as_view(), name="shop-order-list"),
    path("shop/orders/<int:pk>/ship/", api.ShopOrderShipApi.as_view(), name="shop-order-ship"),
    path(
        "shop/orders/<int:pk>/cancel/", api.ShopOrderCancelApi.as_view(), name="shop-order-cancel"
    ),
    path(
        "shop/orders/<int:pk>/refund/", api.ShopOrderRefundApi.as_view(), name="shop-order-refund"
    ),
    path(
        "shop/orders/<int:pk>/reject-refund/",
        api.ShopOrderRejectRefundApi.as_view(),
        name="shop-order-reject-refund",
    ),
]
