import pytest
from django.core.management import call_command

from gifting import selectors
from gifting.models import CoinPack, CoinPurchase, Gift
from payments.ledger_models import LedgerTransaction


def _counts():
    return (
        CoinPack.objects.count(),
        Gift.objects.count(),
        CoinPurchase.objects.count(),
        LedgerTransaction.objects.filter(kind="coins.purchased").count(),
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
        assert selectors.wallet_balance(user=buyer) == coins
    first = _counts()
    call_command("seed_demo", force=True)
    assert _counts() == first
