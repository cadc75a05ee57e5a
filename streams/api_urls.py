from django.urls import path

from . import api

urlpatterns = [
    path("streams/", api.StreamListApi.as_view(), name="stream-list"),
    path("streams/<int:pk>/", api.StreamDetailApi.as_view(), name="stream-detail"),
    path("streams/<int:pk>/snapshot/", api.SnapshotApi.as_view(), name="stream-snapshot"),
    path("streams/<int:pk>/go-live/", api.GoLiveApi.as_view(), name="stream-go-live"),
    path("streams/<int:pk>/end/", api.EndApi.as_view(), name="stream-end"),
    path("streams/<int:pk>/key/", api.KeyRotateApi.as_view(), name="stream-key"),
    path("streams/<int:pk>/carousel/", api.CarouselApi.as_view(), name="stream-carousel"),
    path("streams/<int:pk>/pin/", api.PinApi.as_view(), name="stream-pin"),
    path("streams/<int:pk>/deals/", api.DealApi.as_view(), name="stream-deals"),
    path(
        "streams/<int:pk>/chat-settings/",
        api.ChatSettingsApi.as_view(),
        name="stream-chat-settings",
    ),
    path("streams/<int:pk>/mutes/", api.MuteApi.as_view(), name="stream-mutes"),
    path("streams/<int:pk>/remind/", api.ReminderApi.as_view(), name="stream-remind"),
    path("deals/<int:pk>/end/", api.DealEndApi.as_view(), name="deal-end"),
    path("chat/<int:pk>/", api.ChatMessageApi.as_view(), name="chat-message"),
]
