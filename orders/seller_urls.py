"""The merchant center's orders and per-live figures, mounted at /seller/orders/."""

from django.urls import path

from . import seller_views

app_name = "seller_orders"

urlpatterns = [
    path("", seller_views.SellerOrderListView.as_view(), name="list"),
    path("<int:pk>/", seller_views.SellerOrderDetailView.as_view(), name="detail"),
    path("<int:pk>/ship/", seller_views.OrderShipView.as_view(), name="ship"),
    path("<int:pk>/deliver/", seller_views.OrderDeliverView.as_view(), name="deliver"),
    path("<int:pk>/cancel/", seller_views.OrderCancelView.as_view(), name="cancel"),
    path("<int:pk>/refund/", seller_views.OrderRefundView.as_view(), name="refund"),
    path(
        "<int:pk>/reject-refund/",
        seller_views.OrderRejectRefundView.as_view(),
        name="reject_refund",
    ),
    path("lives/", seller_views.LiveListView.as_view(), name="lives"),
    path("lives/<int:stream_id>/", seller_views.LiveDetailView.as_view(), name="live"),
]
