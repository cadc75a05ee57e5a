from django.urls import path

from . import api

urlpatterns = [
    path("auth/token/", api.TokenApi.as_view(), name="auth-token"),
    path("me/", api.MeApi.as_view(), name="me"),
    path("me/account-type/", api.AccountTypeApi.as_view(), name="me-account-type"),
    path("users/<str:handle>/", api.UserDetailApi.as_view(), name="user-detail"),
    path("users/<str:handle>/follow/", api.FollowApi.as_view(), name="user-follow"),
]
