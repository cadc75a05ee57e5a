from django.urls import path

from . import views

app_name = "accounts"

urlpatterns = [
    path("me/", views.MeView.as_view(), name="me"),
    path("notifications/", views.NotificationsView.as_view(), name="notifications"),
    path("settings/profile/", views.ProfileSettingsView.as_view(), name="settings"),
    path("settings/account-type/", views.AccountTypeView.as_view(), name="account_type"),
    path("@<str:handle>", views.ProfileView.as_view(), name="profile"),
    path("@<str:handle>/follow", views.FollowView.as_view(), name="follow"),
    path(
        "@<str:handle>/followers",
        views.FollowListView.as_view(direction="followers"),
        name="followers",
    ),
    path(
        "@<str:handle>/following",
        views.FollowListView.as_view(direction="following"),
        name="following",
    ),
]
