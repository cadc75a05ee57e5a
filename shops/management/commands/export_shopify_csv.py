from django.core.management.base import BaseCommand, CommandError

from shops.catalog_csv import catalog_export_lines
from shops.models import Shop


class Command(BaseCommand):
    help = "Write a shop's catalog as a Shopify product CSV (to standard output without FILE)."

    def add_arguments(self, parser):
        parser.add_argument("--shop", required=True, help="The shop's handle.")
        parser.add_argument(
            "--base-url",
            default="",
            help="Site URL for uploaded pictures, like https://tapbuy.example/ (without it "
            "they are written as media paths, which re-import into the same shop only).",
        )
        parser.add_argument("file", nargs="?", help="Where to write the CSV.")

    def handle(self, *args, shop: str, base_url: str, file: str | None, **options):
        target = Shop.objects.filter(handle=shop.lower()).first()
        if target is None:
            raise CommandError(f"No shop has the handle {shop!r}.")
        lines = catalog_export_lines(shop=target, base_url=base_url)
        if file is None:
            for line in lines:
                self.stdout.write(line, ending="")
            return
        try:
            # newline="": the csv module already ends rows with \r\n.
            with open(file, "w", encoding="utf-8", newline="") as out:
                out.writelines(lines)
        except OSError as exc:
            raise CommandError(f"Cannot write {file}: {exc.strerror or exc}.") from None
