"""The merchant center's catalog import and export (/seller/import/, /seller/export.csv).
Thin: the work is in catalog_csv."""

from __future__ import annotations

from django.http import StreamingHttpResponse
from django.utils.cache import patch_cache_control
from django.utils.http import content_disposition_header

from . import catalog_csv
from .seller_views import SellerView

TEMPLATE = "shops/seller_import.html"
MAX_MB = catalog_csv.MAX_IMPORT_BYTES // 2**20


class ImportView(SellerView):
    """GET: the upload form. POST: import the file and show the report (400 when nothing
    was imported, with each error's row and column)."""

    seller_tab = "import"

    def get(self, request):
        return self.render(TEMPLATE, {"shop": self.shop_or_404(), "max_mb": MAX_MB})

    def post(self, request):
        shop = self.shop_or_404()
        context = {"shop": shop, "max_mb": MAX_MB}
        upload = request.FILES.get("file")
        if upload is None:
            context["upload_error"] = "Choose a CSV file to import."
            return self.render(TEMPLATE, context, status=400)
        if upload.size > catalog_csv.MAX_IMPORT_BYTES:
            context["upload_error"] = (
                f"The file is {upload.size / 2**20:.1f} MB; the limit is {MAX_MB} MB. Split it "
                "into several files (rows of one product stay together)."
            )
            return self.render(TEMPLATE, context, status=413)
        report = catalog_csv.catalog_import(
            shop=shop, actor=request.user, source=upload, filename=upload.name
        )
        context["report"] = report
        return self.render(TEMPLATE, context, status=200 if report.ok else 400)


class ExportView(SellerView):
    """The shop's catalog as Shopify's product CSV, streamed as an attachment."""

    def get(self, request):
        shop = self.shop_or_404()
        lines = catalog_csv.catalog_export_lines(
            shop=shop, base_url=request.build_absolute_uri("/")
        )
        response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = content_disposition_header(
            as_attachment=True, filename=f"{shop.handle}-products.csv"
        )
        patch_cache_control(response, private=True, no_store=True)  # the merchant's stock
        return response
