import factory
from allauth.account.models import EmailAddress

from accounts.models import User

PASSWORD = "correct-horse-battery"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    handle = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.handle}@example.com")
    display_name = factory.Faker("name")
    password = factory.django.Password(PASSWORD)

    @factory.post_generation
    def verified_email(obj, create, extracted, **kwargs):
        if create and obj.email:
            EmailAddress.objects.create(user=obj, email=obj.email, verified=True, primary=True)


class ShopFactory(factory.django.DjangoModelFactory):
    """An approved shop of a business account (status approved without going through the
    queue; tests of the queue itself use shops.services)."""

    class Meta:
        model = "shops.Shop"

    owner = factory.SubFactory(UserFactory, is_business=True)
    handle = factory.Sequence(lambda n: f"shop{n}")
    name = factory.LazyAttribute(lambda s: f"Shop {s.handle}")
    status = "approved"


def make_product(shop, title="Linen shirt", *, variants=None, **fields):
    """A product made through the service, so its derived fields are right."""
    from shops import services

    fields.setdefault("status", "active")
    if variants is None:
        fields.setdefault("price_minor", 1999)
        fields.setdefault("stock", 10)
    return services.product_create(
        shop=shop, actor=shop.owner, title=title, variants=variants, **fields
    )


def png_bytes(width=64, height=48, color="#ff2d55", fmt="PNG") -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format=fmt)
    return buffer.getvalue()
