from rest_framework import serializers

from config.fields import TextField

from .models import User


class PublicUserSerializer(serializers.ModelSerializer):
    avatar = serializers.ImageField(read_only=True)
    followers_count = serializers.IntegerField(read_only=True)
    following_count = serializers.IntegerField(read_only=True)
    is_followed = serializers.BooleanField(read_only=True, default=False)

    class Meta:
        model = User
        fields = [
            "handle",
            "display_name",
            "bio",
            "avatar",
            "is_business",
            "followers_count",
            "following_count",
            "is_followed",
        ]
        read_only_fields = fields


class MeSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "handle", "email", "display_name", "bio", "avatar", "is_business"]
        read_only_fields = ["id", "handle", "email", "avatar", "is_business"]


class ProfileUpdateSerializer(serializers.Serializer):
    display_name = TextField(max_length=50, required=False, allow_blank=True)
    bio = TextField(max_length=280, required=False, allow_blank=True)


class AccountTypeSerializer(serializers.Serializer):
    is_business = serializers.BooleanField()


class TokenRequestSerializer(serializers.Serializer):
    login = serializers.CharField(max_length=254, help_text="Email or handle")
    password = serializers.CharField(max_length=256, style={"input_type": "password"})


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField()
