"""Settle hosts' gift earnings and affiliate commissions by hand: the same code as the
scheduled task."""

from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError

from gifting.settlement import earnings_settle, settlement_cutoff


class Command(BaseCommand):
    help = (
        "Settle every unsettled gift earning and affiliate commission earned before --until "
        "(default: the end of the last whole settlement period) into one statement per host "
        "and currency."
    )

    def add_arguments(self, parser):
        parser.add_argument("--until", help="An ISO 8601 time; UTC when it has no offset.")
        parser.add_argument("--batch-size", type=int, help="Hosts per transaction.")

    def handle(self, *args, until=None, batch_size=None, **options):
        if until:
            try:
                cutoff = datetime.fromisoformat(until)
            except ValueError as exc:
                raise CommandError(f"--until is not an ISO 8601 time: {until!r}") from exc
            if cutoff.tzinfo is None:
                cutoff = cutoff.replace(tzinfo=UTC)
        else:
            cutoff = settlement_cutoff()
        if batch_size is not None and batch_size < 1:
            raise CommandError("--batch-size is at least 1.")
        settled = earnings_settle(until=cutoff, batch_size=batch_size)
        self.stdout.write(f"Settled {settled} gift earnings before {cutoff.isoformat()}.")
