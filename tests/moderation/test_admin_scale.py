"""Admin lists that can hold millions of rows run the same number of queries with 10 rows
as with 10,000: related rows joined (list_select_related), no full count per page."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from gifting.models import EarningsStatement, Gift, GiftSend
from moderation.models import AuditEntry, Report
from payments.ledger_models import LedgerTransaction
from shops.models import Product
from streams.models import ChatMessage
from tests.factories import UserFactory
from tests.moderation.conftest import admin_client

pytestmark = pytest.mark.django_db


def _chat(n, live, users):
    ChatMessage.objects.bulk_create(
        [ChatMessage(stream=live, user=users[i % len(users)], text=f"line {i}") for i in range(n)]
    )


def _audit(n, live, users):
    AuditEntry.objects.bulk_create(
        [
            AuditEntry(
                actor=users[0],
                subject=users[i % len(users)],
                action=AuditEntry.Action.CHAT_HIDE,
                target_type="streams.chatmessage",
                target_id=i,
                target_repr=f"line {i}",
                reason="Spam",
            )
            for i in range(n)
        ]
    )


def _gift_sends(n, live, users):
    gift = Gift.objects.get_or_create(slug="rose", defaults={"name": "Rose", "coins": 1})[0]
    GiftSend.objects.bulk_create(
        [
            GiftSend(
                sender=users[i % len(users)],
                stream=live,
                creator=live.host,
                gift=gift,
                quantity=1,
                coins=1,
                value_minor=1,
                creator_minor=0,
                platform_minor=1,
                currency="USD",
                idempotency_key=f"scale-{n}-{i}",
            )
            for i in range(n)
        ]
    )


def _transactions(n, live, users):
    LedgerTransaction.objects.bulk_create(
        [LedgerTransaction(kind="x", key=f"scale-{n}-{i}", memo="bulk") for i in range(n)]
    )


def _statements(n, live, users):
    start = timezone.now() - timedelta(days=1)
    EarningsStatement.objects.bulk_create(
        [
            EarningsStatement(
                creator=users[i % len(users)],
                currency="USD",
                period_end=start + timedelta(seconds=i),
            )
            for i in range(n)
        ]
    )


def _reports(n, live, users):
    Report.objects.bulk_create(
        [
            Report(
                reporter=users[i % len(users)],
                target_type="live",
                target_id=live.pk,
                target_repr=live.title,
                target_user=live.host,
                reason="spam",
                status="dismissed",
            )
            for i in range(n)
        ]
    )


def _products(n, live, users):
    shop = live.host.shop
    Product.objects.bulk_create(
        [Product(shop=shop, handle=f"bulk-{n}-{i}", title=f"Bulk {i}") for i in range(n)]
    )


def _users(n, live, users):
    UserFactory._meta.model.objects.bulk_create(
        [
            UserFactory.build(handle=f"bulk{n}x{i}", email=f"bulk{n}x{i}@example.com")
            for i in range(n)
        ]
    )


@pytest.mark.parametrize(
    ("url", "add"),
    [
        ("/admin/streams/chatmessage/", _chat),
        ("/admin/moderation/auditentry/", _audit),
        ("/admin/gifting/giftsend/", _gift_sends),
        ("/admin/payments/ledgertransaction/", _transactions),
        ("/admin/gifting/earningsstatement/", _statements),
        ("/admin/accounts/user/", _users),
        ("/admin/moderation/report/", _reports),
        ("/admin/shops/product/", _products),
    ],
)
def test_a_changelist_costs_the_same_with_10_or_10000_rows(live, url, add):
    superuser = UserFactory(handle="root", is_staff=True, is_superuser=True)
    users = [UserFactory(handle=f"fan{i}") for i in range(5)] + [superuser]
    client = admin_client(superuser)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    add(10, live, users)
    few = queries()
    add(10_000, live, users)
    assert queries() == few


@pytest.mark.postgres
def test_a_big_unfiltered_list_is_not_counted_row_by_row(live, monkeypatch):
    """Above the threshold PostgreSQL's estimate stands in for COUNT(*); a filtered list
    is still counted exactly."""
    from config import admin_paging

    monkeypatch.setattr(admin_paging, "ESTIMATE_ABOVE", 1_000)
    superuser = UserFactory(handle="root", is_staff=True, is_superuser=True)
    _chat(2_000, live, [superuser])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE streams_chatmessage")
    client = admin_client(superuser)

    def counts(url) -> list[str]:
        with CaptureQueriesContext(connection) as captured:
            page = client.get(url)
        assert page.status_code == 200
        return [
            q["sql"]
            for q in captured
            if "COUNT(" in q["sql"].upper() and "streams_chatmessage" in q["sql"]
        ]

    assert counts("/admin/streams/chatmessage/") == []
    assert len(counts("/admin/streams/chatmessage/?hidden__exact=1")) == 1
