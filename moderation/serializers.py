from rest_framework import serializers

from .models import Report
from .reports import TEXT_MAX


class ReportSerializer(serializers.ModelSerializer):
    class Meta:
        model = Report
        fields = ["id", "target_type", "target_id", "reason", "text", "status", "created_at"]
        read_only_fields = fields


class ReportCreateSerializer(serializers.Serializer):
    target_type = serializers.ChoiceField(choices=Report.Target.choices)
    target_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    reason = serializers.ChoiceField(choices=Report.Reason.choices)
    text = serializers.CharField(
        max_length=TEXT_MAX, required=False, allow_blank=True, default="", trim_whitespace=True
    )
