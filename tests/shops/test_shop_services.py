import pytest

from accounts.errors import AccountTypeLocked
from accounts.models import User
from accounts.services import account_set_business
from shops import services
from shops.errors import (
    DuplicateSku,
    InvalidProduct,
    InvalidTransition,
    NeedsBusinessAccount,
    NotYourShop,
    ShopAlreadyOpen,
)
from shops.models import Product, Shop, ShopEvent, Variant
from tests.factories import UserFactory, make_product

pytestmark = pytest.mark.django_db


def test_open_shop_starts_pending_and_logs(merchant):
    shop = services.shop_open(owner=merchant, name=" Max ", handle="MaxShop")
    assert (shop.status, shop.handle, shop.name) == ("pending", "maxshop", "Max")
    assert ShopEvent.objects.get(shop=shop).to_status == "pending"


def test_personal_account_cannot_open_a_shop(viewer):
    with pytest.raises(NeedsBusinessAccount):
        services.shop_open(owner=viewer, name="V", handle="vshop")
    assert not Shop.objects.exists()


def test_one_shop_per_account_and_unique_handles(merchant):
    services.shop_open(owner=merchant, name="A", handle="ashop")
    with pytest.raises(ShopAlreadyOpen):
        services.shop_open(owner=merchant, name="B", handle="bshop")
    other = UserFactory(is_business=True)
    with pytest.raises(InvalidProduct) as error:
        services.shop_open(owner=other, name="A2", handle="ASHOP")
    assert "handle" in error.value.fields
    assert Shop.objects.count() == 1


def test_shop_approval_is_compare_and_set(merchant, staff):
    shop = services.shop_open(owner=merchant, name="A", handle="ashop")
    services.shop_approve(shop_id=shop.pk, actor=staff)
    with pytest.raises(InvalidTransition):
        services.shop_approve(shop_id=shop.pk, actor=staff)
    with pytest.raises(InvalidTransition):
        services.shop_reject(shop_id=shop.pk, actor=staff, reason="late")
    shop.refresh_from_db()
    assert shop.status == "approved" and shop.approved_at
    assert list(ShopEvent.objects.filter(shop=shop).values_list("to_status", flat=True)) == [
        "approved",
        "pending",
    ]


def test_rejected_shop_goes_back_to_the_queue_when_edited(merchant, staff):
    shop = services.shop_open(owner=merchant, name="A", handle="ashop")
    services.shop_reject(shop_id=shop.pk, actor=staff, reason="Logo missing")
    shop.refresh_from_db()
    services.shop_update(shop=shop, actor=merchant, name="A better name")
    shop.refresh_from_db()
    assert shop.status == "pending"


def test_only_the_owner_updates_a_shop(shop, viewer):
    with pytest.raises(NotYourShop):
        services.shop_update(shop=shop, actor=viewer, name="Mine now")
    shop.refresh_from_db()
    assert shop.name == "Max's Shop"


def test_product_without_options_has_one_default_variant(shop):
    product = make_product(shop, price_minor=2500, stock=3, sku="LIN-1")
    (variant,) = product.variants.all()
    assert (variant.option1, variant.title, variant.price_minor, variant.stock) == (
        "",
        "Default",
        2500,
        3,
    )
    assert product.price_minor == 2500
    assert product.handle == "linen-shirt"


def test_product_with_variants_takes_the_lowest_price(shop):
    product = make_product(
        shop,
        option1_name="Size",
        variants=[
            {"option1": "S", "sku": "S1", "price_minor": 2100, "stock": 1},
            {"option1": "M", "sku": "M1", "price_minor": 1900, "stock": 2},
        ],
    )
    assert product.price_minor == 1900
    assert [v.title for v in product.variants.all()] == ["S", "M"]


def test_description_is_sanitized_and_searchable(shop):
    product = make_product(
        shop,
        description='**Soft** linen <script>alert(1)</script> <a href="javascript:x">x</a>',
        tags="summer, Linen, summer",
    )
    assert "<strong>Soft</strong>" in product.description_html
    assert "<script" not in product.description_html
    assert "javascript:" not in product.description_html
    assert product.tags == "summer, Linen"
    assert "soft" in product.search_document and "summer" in product.search_document


@pytest.mark.parametrize(
    ("variant", "field"),
    [
        ({"price_minor": -1, "stock": 1}, "variants.0.price_minor"),
        ({"price_minor": 100, "stock": -5}, "variants.0.stock"),
    ],
)
def test_negative_price_or_stock_is_refused(shop, variant, field):
    with pytest.raises(InvalidProduct) as error:
        make_product(shop, variants=[variant])
    assert field in error.value.fields
    assert not Product.objects.exists()


def test_sku_is_unique_per_shop(shop, rival_shop):
    make_product(shop, "First", sku="SKU-1")
    with pytest.raises(DuplicateSku):
        make_product(shop, "Second", sku="SKU-1")
    with pytest.raises(DuplicateSku):
        make_product(
            shop,
            "Third",
            variants=[
                {"option1": "S", "sku": "X", "price_minor": 1},
                {"option1": "M", "sku": "X", "price_minor": 1},
            ],
        )
    assert Product.objects.filter(shop=shop).count() == 1
    # Another shop may use the same SKU.
    make_product(rival_shop, "Theirs", sku="SKU-1")
    assert Variant.objects.filter(sku="SKU-1").count() == 2


def test_only_the_owner_changes_products(shop, viewer):
    product = make_product(shop)
    with pytest.raises(NotYourShop):
        services.product_update(product=product, actor=viewer, title="Hacked")
    with pytest.raises(NotYourShop):
        services.variant_set_stock(variant=product.variants.get(), actor=viewer, stock=0)
    with pytest.raises(NotYourShop):
        services.product_create(shop=shop, actor=viewer, title="Nope", price_minor=1)
    product.refresh_from_db()
    assert product.title == "Linen shirt" and product.variants.get().stock == 10


def test_stock_edit_and_delete_keep_one_variant(shop):
    product = make_product(shop)
    variant = services.variant_set_stock(variant=product.variants.get(), actor=shop.owner, stock=0)
    assert Variant.objects.get(pk=variant.pk).stock == 0
    with pytest.raises(InvalidProduct):
        services.variant_delete(variant=variant, actor=shop.owner)
    with pytest.raises(InvalidProduct):
        services.variant_set_stock(variant=variant, actor=shop.owner, stock=-1)
    assert Variant.objects.get(pk=variant.pk).stock == 0


def test_archive_and_external_clicks(shop):
    product = make_product(shop, external_url="https://max.example/shirt")
    services.product_external_click(product_id=product.pk)
    services.product_external_click(product_id=product.pk)
    services.product_archive(product=product, actor=shop.owner)
    product.refresh_from_db()
    assert (product.status, product.external_clicks) == ("archived", 2)


def test_shop_owner_cannot_switch_back_to_personal(shop, merchant, client):
    with pytest.raises(AccountTypeLocked):
        account_set_business(user=merchant, is_business=False)
    client.force_login(merchant)
    client.post("/settings/account-type/", {"account_type": "personal"})
    assert User.objects.get(pk=merchant.pk).is_business


def test_product_save_is_all_or_nothing_and_names_the_row(shop):
    product = make_product(
        shop,
        option1_name="Size",
        variants=[
            {"option1": "S", "sku": "S1", "price_minor": 1000, "stock": 1},
            {"option1": "M", "sku": "M1", "price_minor": 1000, "stock": 1},
        ],
    )
    small, medium = product.variants.all()
    with pytest.raises(InvalidProduct) as error:
        services.product_save(
            product=product,
            actor=shop.owner,
            fields={"title": "Renamed"},
            variants=[(small, {"price_minor": 900}), (None, {"option1": "L", "price_minor": -5})],
        )
    assert "variants.1.price_minor" in error.value.fields
    product.refresh_from_db()
    assert product.title == "Linen shirt" and product.price_minor == 1000
    assert product.variants.count() == 2
    services.product_save(
        product=product,
        actor=shop.owner,
        fields={"title": "Renamed"},
        variants=[
            (small, {"price_minor": 900}),
            (None, {"option1": "L", "sku": "L1", "price_minor": 1100}),
        ],
    )
    product.refresh_from_db()
    assert (product.title, product.price_minor, product.variants.count()) == ("Renamed", 900, 3)
