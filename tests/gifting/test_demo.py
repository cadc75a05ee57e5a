import pytest
from django.core.management import call_command
from django.db.models import Sum

from gifting import selectors
from gifting.models import CoinPack, CoinPurchase, EarningsStatement, Gift, GiftSend
from payments.ledger_models import LedgerEntry, LedgerTransaction
from streams.models import Stream


def _counts():
    return (
        CoinPack.objects.count(),
        Gift.objects.count(),
        CoinPurchase.objects.count(),
        Stream.objects.count(),
        GiftSend.objects.count(),
        EarningsStatement.objects.count(),
        list(LedgerTransaction.objects.values_list("kind", "key").order_by("pk")),
    )


def _settled(user) -> int:
    return (
        LedgerEntry.objects.filter(account__code=f"earnings:settled:user:{user.pk}:USD").aggregate(
            s=Sum("amount")
        )["s"]
        or 0
    )


@pytest.mark.django_db
def test_the_demo_has_coin_packs_gifts_and_shoppers_with_coins():
    call_command("seed_demo", force=True)
    packs = list(CoinPack.objects.values_list("coins", "price_minor", "currency"))
    assert packs == [
        (70, 99, "USD"),
        (350, 499, "USD"),
        (700, 999, "USD"),
        (1400, 1999, "USD"),
        (3500, 4999, "USD"),
        (7000, 9999, "USD"),
    ]
    gifts = list(Gift.objects.all())
    assert len(gifts) == 8 and all(gift.image for gift in gifts)
    assert {gift.level for gift in gifts} == {"small", "large", "fullscreen"}
    assert all(1 <= gift.coins <= 30_000 for gift in gifts)
    for handle, coins in (("noah", 700), ("zoe", 1400)):
        buyer = CoinPurchase.objects.get(buyer__handle=handle).buyer
        spent = GiftSend.objects.filter(sender=buyer).aggregate(s=Sum("coins"))["s"]
        assert 0 < spent < coins  # some sent as gifts, most kept for the gift panel
        assert selectors.wallet_balance(user=buyer) == coins - spent
    first = _counts()
    call_command("seed_demo", force=True)
    assert _counts() == first


@pytest.mark.django_db
def test_the_demo_host_has_a_gift_history_and_one_settled_statement():
    call_command("seed_demo", force=True)
    live = Stream.objects.get(host__handle="leo.makes", title="Kiln opening: last week's glazes")
    host = live.host
    assert live.status == "ended"
    sends = GiftSend.objects.filter(stream=live)
    assert {s.sender.handle for s in sends} == {"noah", "zoe"}
    assert sends.count() == 5 and all(s.creator_id == host.pk for s in sends)
    # Every send settled into the host's one statement, whose total is their share.
    (statement,) = EarningsStatement.objects.filter(creator=host)
    assert not sends.filter(statement__isnull=True).exists()
    assert statement.gift_count == 5
    assert statement.creator_minor == sum(s.creator_minor for s in sends) > 0
    assert _settled(host) == statement.creator_minor

    first = _counts()
    call_command("seed_demo", force=True)
    assert _counts() == first
    assert _settled(host) == statement.creator_minor
