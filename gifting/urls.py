from django.urls import path

from . import views

app_name = "gifting"

urlpatterns = [
    path("wallet/", views.WalletView.as_view(), name="wallet"),
    path("wallet/coins", views.WalletBuyView.as_view(), name="buy"),
    path("earnings/", views.EarningsView.as_view(), name="earnings"),
    path("earnings/payouts", views.PayoutRequestView.as_view(), name="payout_request"),
    path("earnings/supporters/", views.SupportersView.as_view(), name="supporters"),
    path("earnings/supporters.csv", views.SupportersCsvView.as_view(), name="supporters_csv"),
    path("live/<int:pk>/gifts/", views.GiftPanelView.as_view(), name="panel"),
    path("live/<int:pk>/gifts/summary", views.GiftSummaryView.as_view(), name="summary"),
    path("live/<int:pk>/gifts/top", views.TopGiftersView.as_view(), name="top"),
]
