from django.urls import path

from . import views

app_name = "gifting"

urlpatterns = [
    path("wallet/", views.WalletView.as_view(), name="wallet"),
    path("wallet/coins", views.WalletBuyView.as_view(), name="buy"),
]
