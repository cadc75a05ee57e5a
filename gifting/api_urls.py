from django.urls import path

from . import api

urlpatterns = [
    path("coin-packs/", api.CoinPackListApi.as_view(), name="coin-pack-list"),
    path("wallet/", api.WalletApi.as_view(), name="wallet"),
    path("wallet/coins/", api.WalletCoinsApi.as_view(), name="wallet-coins"),
    path("gifts/", api.GiftListApi.as_view(), name="gift-list"),
    path("streams/<int:pk>/gifts/", api.StreamGiftsApi.as_view(), name="stream-gifts"),
    path("payouts/", api.PayoutListApi.as_view(), name="payout-list"),
    path("payouts/<int:pk>/", api.PayoutDetailApi.as_view(), name="payout-detail"),
]
