"""Reports in the API: report a live, a chat message, a product, a shop or a user, and
see the status of one's own reports."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from . import reports
from .serializers import ReportCreateSerializer, ReportSerializer
from .throttles import ReportsThrottle


class ReportListApi(APIView):
    permission_classes = [IsAuthenticated]

    def get_throttles(self):
        throttles = super().get_throttles()
        return [*throttles, ReportsThrottle()] if self.request.method == "POST" else throttles

    @extend_schema(responses=ReportSerializer(many=True))
    def get(self, request):
        """The caller's reports, newest first (the latest 50), with what staff decided."""
        mine = reports.reports_of(reporter=request.user)
        return Response(ReportSerializer(mine, many=True).data)

    @extend_schema(request=ReportCreateSerializer, responses={201: ReportSerializer})
    def post(self, request):
        """Report something that breaks the rules. 404 when the target is not public,
        400 cannot_report_own for one's own, 409 already_reported while the caller's
        report of it is open ("other" needs text)."""
        serializer = ReportCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        report = reports.report_create(reporter=request.user, **serializer.validated_data)
        return Response(ReportSerializer(report).data, status=status.HTTP_201_CREATED)
