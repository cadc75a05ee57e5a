"""How fast staff's admin lists answer over tables of a million rows.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tapbuy_bench_admin \\
        .venv/bin/python bench/admin_lists.py [--rows 1000000] [--requests 5] [--no-seed]

Seeds --rows chat messages (in one live, from 1,000 users, one in fifty hidden) and --rows
orders (from the same users at one shop, statuses mixed), each by one INSERT ... SELECT
over generate_series, then ANALYZE, as autovacuum would. Then, signed in as a superuser
through Django's test client (in process: the page's own time, no server), it asks each
list --requests times and reports the median and the slowest, with the page's queries.

It migrates the database it is pointed at and leaves its data behind, so it runs only on
a PostgreSQL database whose name contains "bench": drop it afterwards.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Production settings: with DEBUG on, Django keeps every query, which would be measured.
os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("SECRET_KEY", "bench-" + uuid.uuid4().hex * 2)
os.environ.setdefault("PAYMENTS_WEBHOOK_SECRET", "whsec_bench_" + uuid.uuid4().hex)
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")
os.environ.setdefault("HTTPS", "0")

LISTS = [
    ("chat messages", "/admin/streams/chatmessage/"),
    ("chat messages, hidden only", "/admin/streams/chatmessage/?hidden__exact=1"),
    ("chat messages, search a handle", "/admin/streams/chatmessage/?q=fan7"),
    ("orders", "/admin/orders/order/"),
    ("orders, paid only", "/admin/orders/order/?status__exact=paid"),
    ("orders, page 100", "/admin/orders/order/?p=100"),
]


def seed(rows: int) -> dict:
    from django.db import connection
    from django.utils import timezone

    from streams import services as streams_services
    from tests.factories import ShopFactory, UserFactory

    tag = uuid.uuid4().hex[:6]
    host = UserFactory(handle=f"bh{tag}", is_business=True)
    shop = ShopFactory(owner=host, handle=f"bs{tag}")
    stream, _ = streams_services.stream_schedule(
        host=host, title="Admin bench", scheduled_at=timezone.now()
    )
    users = UserFactory._meta.model.objects.bulk_create(
        [
            UserFactory.build(handle=f"fan{i}x{tag}", email=f"fan{i}x{tag}@example.com")
            for i in range(1000)
        ]
    )
    ids = [u.pk for u in users]
    times = {}
    with connection.cursor() as cursor:
        start = time.monotonic()
        cursor.execute(
            "INSERT INTO streams_chatmessage (stream_id, user_id, text, hidden, created_at) "
            "SELECT %s, (%s::bigint[])[1 + g %% 1000], 'line ' || g, g %% 50 = 0, "
            "now() - (g || ' seconds')::interval FROM generate_series(1, %s) AS g",
            [stream.pk, ids, rows],
        )
        times["chat"] = time.monotonic() - start
        start = time.monotonic()
        cursor.execute(
            "INSERT INTO orders_order (buyer_id, shop_id, status, currency, subtotal_minor, "
            "shipping_minor, total_minor, refunded_minor, platform_rate_bp, "
            "shipping_address, payment_method, payment_provider, payment_ref, payment_state, "
            "payment_message, checkout_key, carrier, tracking_number, cancel_reason, "
            "refund_reason, placed_at, pay_by) "
            "SELECT (%s::bigint[])[1 + g %% 1000], %s, "
            "(ARRAY['pending_payment','paid','shipped','delivered','cancelled'])[1 + g %% 5], "
            "'USD', 4900, 0, 4900, 0, 500, '{}'::jsonb, 'pm_card_ok', 'simulated', '', "
            "'captured', '', 'k' || g, '', '', '', '', now() - (g || ' seconds')::interval, "
            "now() FROM generate_series(1, %s) AS g",
            [ids, shop.pk, rows],
        )
        times["orders"] = time.monotonic() - start
        cursor.execute("ANALYZE streams_chatmessage")
        cursor.execute("ANALYZE orders_order")
    return times


def measure(requests: int) -> list[tuple]:
    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from tests.factories import UserFactory

    root = UserFactory(handle=f"root{uuid.uuid4().hex[:6]}", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(root)
    results = []
    for name, url in LISTS:
        assert client.get(url).status_code == 200  # warm: templates, plans
        seconds = []
        queries = 0
        for _ in range(requests):
            reset_queries()
            with CaptureQueriesContext(connection) as captured:
                start = time.monotonic()
                response = client.get(url)
                seconds.append(time.monotonic() - start)
            assert response.status_code == 200, (url, response.status_code)
            queries = len(captured)
        results.append((name, url, statistics.median(seconds), max(seconds), queries))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=5)
    parser.add_argument(
        "--no-seed", action="store_true", help="measure the rows a previous run left"
    )
    args = parser.parse_args()

    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith("postgres") or "bench" not in database_url.rsplit("/", 1)[-1]:
        sys.exit("Point DATABASE_URL at a PostgreSQL database whose name contains 'bench'.")

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    # Pages name their static files without a collected manifest (collectstatic is the
    # deployment's job, not the benchmark's); set before the storage is first used.
    settings.STORAGES["staticfiles"] = {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
    }

    call_command("migrate", verbosity=0)
    if not args.no_seed:
        times = seed(args.rows)
        print(
            f"seeded {args.rows:,} chat messages in {times['chat']:.1f} s and {args.rows:,} "
            f"orders in {times['orders']:.1f} s"
        )
    print()
    print("| list | URL | median | slowest | queries |")
    print("|---|---|---:|---:|---:|")
    for name, url, median, slowest, queries in measure(args.requests):
        print(
            f"| {name} | `{url}` | {median * 1000:,.0f} ms | {slowest * 1000:,.0f} ms | {queries} |"
        )


if __name__ == "__main__":
    main()
