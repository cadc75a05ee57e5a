"""Staff take a product down and restore it from admin: it leaves the site, the lives
showing it and the merchant's control, with a reason in the audit log."""

import pytest
from asgiref.sync import sync_to_async
from django.urls import reverse

from moderation.models import AuditEntry
from shops import services as shops_services
from shops.catalog_csv import catalog_import
from shops.errors import ProductTakenDown
from shops.models import Product
from streams import services as streams_services
from streams.models import CarouselItem, Deal
from tests.moderation.conftest import admin_client
from tests.streams.conftest import connect, receive_type

CHANGELIST = "/admin/shops/product/"


def _act(user, action, product, reason="Counterfeit branded goods"):
    return admin_client(user).post(
        CHANGELIST,
        {"action": action, "_selected_action": [product.pk], "apply": "1", "reason": reason},
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("flush_layer")
async def test_a_taken_down_product_leaves_the_live_at_once(live, live_host, products, moderator):
    shirt, mug, _ = products

    @sync_to_async
    def feature():
        streams_services.carousel_set(stream=live, actor=live_host, product_ids=[shirt.pk, mug.pk])
        streams_services.deal_start(
            stream=live,
            actor=live_host,
            product_id=shirt.pk,
            price_minor=100,
            quantity=2,
            seconds=60,
        )

    await feature()
    viewer, snapshot = await connect(live.pk)
    assert [item["product"] for item in snapshot["data"]["carousel"]] == [shirt.pk, mug.pk]

    assert (await sync_to_async(_act)(moderator, "take_down", shirt)).status_code == 302
    assert (await receive_type(viewer, "deal.ended"))["data"]["product"] == shirt.pk
    carousel = await receive_type(viewer, "carousel.updated")
    assert [item["product"] for item in carousel["data"]["items"]] == [mug.pk]
    await viewer.disconnect()

    @sync_to_async
    def stored():
        product = Product.objects.get(pk=shirt.pk)
        entry = AuditEntry.objects.select_related("subject").get()
        return (
            product,
            entry,
            list(CarouselItem.objects.filter(stream=live).values_list("product_id", flat=True)),
            Deal.objects.get(product=shirt).status,
        )

    product, entry, carousel_left, deal_status = await stored()
    assert product.status == Product.Status.TAKEN_DOWN
    assert product.moderation_note == "Counterfeit branded goods"
    assert carousel_left == [mug.pk] and deal_status == Deal.Status.ENDED
    assert (entry.action, entry.target_type, entry.target_id, entry.subject) == (
        "product.take_down",
        "shops.product",
        shirt.pk,
        live_host,
    )
    assert entry.before == {"status": "active"}
    assert entry.after == {"status": "taken_down", "removed_from_lives": [live.pk]}


@pytest.mark.django_db
def test_a_taken_down_product_is_gone_for_buyers_and_stays_down_for_its_merchant(
    client, api_client, live_host, products, moderator
):
    shirt = products[0]
    public = reverse("shops:product", kwargs={"pk": shirt.pk})
    assert client.get(public).status_code == 200
    assert _act(moderator, "take_down", shirt).status_code == 302
    assert client.get(public).status_code == 404
    assert not streams_services.Product.objects.filter(
        streams_services.products_allowed_q(live_host), pk=shirt.pk
    ).exists()

    # The merchant sees why, can still edit it, but cannot publish it again: not from the
    # service, the API, or a CSV file saying it is active.
    client.force_login(live_host)
    page = client.get(reverse("seller:product_edit", args=[shirt.pk])).content.decode()
    assert 'data-testid="takedown-note"' in page and "Counterfeit branded goods" in page
    with pytest.raises(ProductTakenDown):
        shops_services.product_update(product=shirt, actor=live_host, status="active")
    shops_services.product_update(product=shirt, actor=live_host, title="Linen shirt (genuine)")
    api_client.force_authenticate(live_host)
    response = api_client.patch(
        f"/api/v1/products/{shirt.pk}/", {"status": "active"}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "product_taken_down"
    response = api_client.patch(
        f"/api/v1/products/{shirt.pk}/", {"status": "taken_down"}, format="json"
    )
    assert response.status_code == 400
    csv = (
        "Handle,Title,Status,Variant SKU,Variant Price\n"
        f"{shirt.handle},Linen shirt (genuine),active,LS,49.00\n"
    ).encode()
    report = catalog_import(shop=live_host.shop, actor=live_host, source=csv)
    assert not report.errors
    shirt.refresh_from_db()
    assert shirt.status == Product.Status.TAKEN_DOWN
    assert shirt.title == "Linen shirt (genuine)"


@pytest.mark.django_db
def test_restoring_returns_the_product_to_the_status_it_had(client, live_host, products, moderator):
    shirt, mug, _ = products
    shops_services.product_update(product=mug, actor=live_host, status="draft")
    for product in (shirt, mug):
        assert _act(moderator, "take_down", product).status_code == 302
    response = admin_client(moderator).post(
        CHANGELIST,
        {
            "action": "restore",
            "_selected_action": [shirt.pk, mug.pk],
            "apply": "1",
            "reason": "The merchant showed the invoices",
        },
    )
    assert response.status_code == 302
    assert dict(Product.objects.filter(pk__in=[shirt.pk, mug.pk]).values_list("pk", "status")) == {
        shirt.pk: "active",
        mug.pk: "draft",
    }
    assert Product.objects.get(pk=shirt.pk).moderation_note == ""
    restored = AuditEntry.objects.filter(action="product.restore").order_by("target_id")
    assert [(e.target_id, e.before, e.after) for e in restored] == [
        (shirt.pk, {"status": "taken_down"}, {"status": "active"}),
        (mug.pk, {"status": "taken_down"}, {"status": "draft"}),
    ]
    assert client.get(reverse("shops:product", kwargs={"pk": shirt.pk})).status_code == 200


@pytest.mark.django_db
def test_taking_down_twice_is_refused_and_logged_once(products, moderator):
    shirt = products[0]
    assert _act(moderator, "take_down", shirt).status_code == 302
    response = admin_client(moderator).post(
        CHANGELIST,
        {"action": "take_down", "_selected_action": [shirt.pk], "apply": "1", "reason": "Again"},
        follow=True,
    )
    assert "taken down already" in response.content.decode()
    assert AuditEntry.objects.filter(action="product.take_down").count() == 1


@pytest.mark.django_db
def test_staff_without_the_permission_cannot_take_down(products, finance):
    shirt = products[0]
    assert _act(finance, "take_down", shirt).status_code == 403
    shirt.refresh_from_db()
    assert shirt.status == "active" and not AuditEntry.objects.exists()


@pytest.mark.django_db
def test_a_reason_is_required(products, moderator):
    shirt = products[0]
    response = _act(moderator, "take_down", shirt, reason="")
    assert response.status_code == 200  # the form again, with its error
    shirt.refresh_from_db()
    assert shirt.status == "active" and not AuditEntry.objects.exists()


@pytest.mark.django_db
def test_a_replay_no_longer_offers_a_product_taken_down(live, live_host, products, moderator):
    from streams import selectors, snapshots

    shirt, mug, _ = products
    streams_services.carousel_set(stream=live, actor=live_host, product_ids=[shirt.pk, mug.pk])
    streams_services.carousel_pin(stream=live, actor=live_host, product_id=shirt.pk)
    streams_services.stream_end(stream=live, actor=live_host)
    assert _act(moderator, "take_down", shirt).status_code == 302
    assert [item["product"] for item in snapshots.carousel(live.pk)] == [mug.pk]
    live.refresh_from_db()
    assert selectors.carousel_history(stream=live) == []
