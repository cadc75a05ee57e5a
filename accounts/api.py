from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.authtoken.models import Token
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from . import selectors, services
from .errors import InvalidLogin
from .models import User
from .serializers import (
    AccountTypeSerializer,
    MeSerializer,
    ProfileUpdateSerializer,
    PublicUserSerializer,
    TokenRequestSerializer,
    TokenSerializer,
)


class MeApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=MeSerializer)
    def get(self, request):
        return Response(MeSerializer(request.user, context={"request": request}).data)

    @extend_schema(request=ProfileUpdateSerializer, responses=MeSerializer)
    def patch(self, request):
        serializer = ProfileUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.profile_update(user=request.user, **serializer.validated_data)
        return Response(MeSerializer(user, context={"request": request}).data)


class AccountTypeApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=AccountTypeSerializer, responses=MeSerializer)
    def post(self, request):
        serializer = AccountTypeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.account_set_business(
            user=request.user, is_business=serializer.validated_data["is_business"]
        )
        return Response(MeSerializer(user, context={"request": request}).data)


class UserDetailApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses=PublicUserSerializer)
    def get(self, request, handle):
        profile = selectors.profile_get(handle=handle, viewer=request.user)
        return Response(PublicUserSerializer(profile, context={"request": request}).data)


class FollowApi(APIView):
    permission_classes = [IsAuthenticated]

    def _followee(self, handle: str) -> User:
        return selectors.profile_get(handle=handle)

    @extend_schema(request=None, responses={201: PublicUserSerializer, 200: PublicUserSerializer})
    def post(self, request, handle):
        created = services.user_follow(follower=request.user, followee=self._followee(handle))
        profile = selectors.profile_get(handle=handle, viewer=request.user)
        return Response(
            PublicUserSerializer(profile, context={"request": request}).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(request=None, responses={204: None})
    def delete(self, request, handle):
        services.user_unfollow(follower=request.user, followee=self._followee(handle))
        return Response(status=status.HTTP_204_NO_CONTENT)


class TokenApi(APIView):
    """Trade a login and password for an API token (mobile clients, merchant tools)."""

    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"

    @extend_schema(request=TokenRequestSerializer, responses=TokenSerializer)
    def post(self, request):
        serializer = TokenRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        login = serializer.validated_data["login"].strip()
        handle = login.lower()
        if "@" in login:
            match = User.objects.filter(email__iexact=login).values_list("handle", flat=True)
            handle = match.first() or ""
        user = authenticate(request, handle=handle, password=serializer.validated_data["password"])
        if user is None:
            raise InvalidLogin()
        token, _ = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})
