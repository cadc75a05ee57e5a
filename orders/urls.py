from django.urls import path

from . import views

app_name = "orders"

urlpatterns = [
    path("orders/", views.OrderListView.as_view(), name="list"),
    path("orders/<int:pk>/", views.OrderDetailView.as_view(), name="detail"),
    path("orders/<int:pk>/cancel", views.OrderCancelView.as_view(), name="cancel"),
    path("orders/<int:pk>/received", views.OrderReceivedView.as_view(), name="received"),
    path("orders/<int:pk>/refund", views.OrderRefundView.as_view(), name="refund"),
    path("buy/<int:product_id>/", views.BuySheetView.as_view(), name="buy"),
    path("bag/", views.BagView.as_view(), name="bag"),
    path("bag/add", views.BagAddView.as_view(), name="bag-add"),
    path("bag/checkout", views.BagCheckoutView.as_view(), name="bag-checkout"),
    path("bag/<int:item_id>/", views.BagItemView.as_view(), name="bag-item"),
    path("bag/<int:item_id>/remove", views.BagRemoveView.as_view(), name="bag-remove"),
    path("addresses/", views.AddressListView.as_view(), name="addresses"),
    path("addresses/<int:pk>/default", views.AddressDefaultView.as_view(), name="address-default"),
    path("addresses/<int:pk>/delete", views.AddressDeleteView.as_view(), name="address-delete"),
]
