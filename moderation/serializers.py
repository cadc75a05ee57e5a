from rest_framework import serializers

from config.fields import id_field

from .models import Report
from .reports import TEXT_MAX


class ReportSerializer(serializers.ModelSerializer):
    class Meta:
        model = Report
        fields = ["id", "target_type", "target_id", "reason", "text", "status", "created_at"]
        read_only_fields = fields


class ReportCreateSerializer(serializers.Serializer):
    target_type = serializers.ChoiceField(choices=Report.Target.choices)
    target_id = id_field()
    reason = serializers.ChoiceField(choices=Report.Reason.choices)
    text = serializers.CharField(
        max_length=TEXT_MAX, required=False, allow_blank=True, default="", trim_whitespace=True
    )
