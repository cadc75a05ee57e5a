from django.urls import path

from . import api

urlpatterns = [
    path("reports/", api.ReportListApi.as_view(), name="report-list"),
]
