import sys

from django.core.management.base import BaseCommand, CommandError

from shops.catalog_csv import catalog_import
from shops.models import Shop


class Command(BaseCommand):
    help = (
        "Import a Shopify product CSV into a shop, as its owner. Nothing is changed unless "
        "every row is valid; the exit status is non-zero when the import was refused."
    )

    def add_arguments(self, parser):
        parser.add_argument("--shop", required=True, help="The shop's handle.")
        parser.add_argument("file", help="The CSV file, or - for standard input.")

    def handle(self, *args, shop: str, file: str, **options):
        target = Shop.objects.select_related("owner").filter(handle=shop.lower()).first()
        if target is None:
            raise CommandError(f"No shop has the handle {shop!r}.")
        if file == "-":
            report = catalog_import(
                shop=target, actor=target.owner, source=sys.stdin.buffer, filename="stdin"
            )
        else:
            try:
                with open(file, "rb") as source:
                    report = catalog_import(
                        shop=target, actor=target.owner, source=source, filename=file
                    )
            except OSError as exc:
                raise CommandError(f"Cannot read {file}: {exc.strerror or exc}.") from None
        if not report.ok:
            self.stderr.write(report.summary())
            raise CommandError("The import was refused; the shop's catalog is unchanged.")
        self.stdout.write(report.summary())
