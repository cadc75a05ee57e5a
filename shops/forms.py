"""Forms of the merchant center. They parse and check what people type (prices as decimal
strings, the affiliate rate as a percent) into the integers the services take; they never
save anything themselves."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.conf import settings

from payments.money import MoneyError, format_plain, parse_minor

from .models import Category, Product, Shop, Variant

IMAGE_ACCEPT = "image/jpeg,image/png,image/webp,image/gif"
OPTION_SLOTS = (1, 2, 3)


def _logo_field() -> forms.FileField:
    # A FileField, not an ImageField: the service checks and re-encodes the picture (and
    # refuses decompression bombs before decoding), so its message is the one people see.
    return forms.FileField(
        required=False,
        help_text="Square works best. JPEG, PNG, WebP or GIF, up to 10 MB.",
        widget=forms.FileInput(attrs={"accept": IMAGE_ACCEPT}),
    )


class ShopOpenForm(forms.ModelForm):
    logo = _logo_field()

    class Meta:
        model = Shop
        fields = ["name", "handle", "description", "return_policy"]
        labels = {"name": "Shop name", "handle": "Shop handle"}
        help_texts = {"handle": "Letters, digits, _ and . — your shop's address."}
        widgets = {
            "description": forms.Textarea(attrs={"rows": 3}),
            "return_policy": forms.Textarea(attrs={"rows": 4}),
            "handle": forms.TextInput(attrs={"autocapitalize": "none", "spellcheck": "false"}),
        }

    def clean_handle(self) -> str:
        # Handles are stored lowercased: check uniqueness against what will be stored.
        return self.cleaned_data["handle"].strip().lower()


class ShopSettingsForm(forms.ModelForm):
    logo = _logo_field()

    class Meta:
        model = Shop
        fields = ["name", "description", "return_policy"]
        labels = {"name": "Shop name"}
        widgets = {
            "description": forms.Textarea(attrs={"rows": 3}),
            "return_policy": forms.Textarea(attrs={"rows": 4}),
        }


class ProductForm(forms.Form):
    title = forms.CharField(max_length=200)
    description = forms.CharField(
        required=False,
        max_length=20_000,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="Markdown: **bold**, *italic*, lists and links.",
    )
    category = forms.ModelChoiceField(
        queryset=Category.objects.all(), required=False, empty_label="No category"
    )
    tags = forms.CharField(required=False, max_length=500, help_text="Separated by commas.")
    status = forms.ChoiceField(
        choices=[(value, Product.Status(value).label) for value in Product.SELLER_STATUSES],
        initial=Product.Status.DRAFT,
        help_text="Only active products of an approved shop are visible to buyers.",
    )
    affiliate_percent = forms.DecimalField(
        label="Affiliate commission (%)",
        required=False,
        min_value=0,
        max_value=50,
        max_digits=4,
        decimal_places=2,
        initial=0,
        help_text="What creators earn for selling it in their lives, 0 to 50 %.",
        widget=forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal"}),
    )
    external_url = forms.URLField(
        label="External link",
        required=False,
        max_length=500,
        assume_scheme="https",
        help_text="Sell on your own store instead: the Buy button links there.",
    )
    option1_name = forms.CharField(
        label="Option 1 name",
        required=False,
        max_length=60,
        help_text="Like Size. Leave empty for a single variant.",
    )
    option2_name = forms.CharField(
        label="Option 2 name", required=False, max_length=60, help_text="Like Colour."
    )
    option3_name = forms.CharField(label="Option 3 name", required=False, max_length=60)

    def __init__(self, *args, product: Product | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if product is not None and product.status == Product.Status.TAKEN_DOWN:
            # Shown, not editable: staff lift a takedown, the merchant cannot.
            status = self.fields["status"]
            status.disabled = True
            status.choices = Product.Status.choices
            status.initial = product.status
            status.help_text = "Staff took this product down; they can restore it."

    @classmethod
    def initial_for(cls, product: Product) -> dict:
        return {
            "title": product.title,
            "description": product.description,
            "category": product.category_id,
            "tags": product.tags,
            "status": product.status,
            "affiliate_percent": Decimal(product.affiliate_rate_bp) / 100,
            "external_url": product.external_url,
            "option1_name": product.option1_name,
            "option2_name": product.option2_name,
            "option3_name": product.option3_name,
        }

    def posted_option_names(self) -> list[str]:
        """The option names as typed, so the variant rows can be checked against them
        even when this form has errors of its own."""
        return [self.data.get(self.add_prefix(f"option{i}_name"), "").strip() for i in OPTION_SLOTS]

    def clean(self):
        cleaned = super().clean()
        names = [cleaned.get(f"option{i}_name", "") for i in OPTION_SLOTS]
        # Variants store their values in option1..3 by position: a gap would leave a
        # value without a name.
        for i in (2, 3):
            if names[i - 1] and not names[i - 2]:
                self.add_error(f"option{i}_name", f"Name option {i - 1} first.")
        return cleaned

    def service_fields(self) -> dict:
        """The cleaned data in the services' terms (affiliate rate in basis points)."""
        data = self.cleaned_data
        percent = data.get("affiliate_percent") or Decimal(0)
        return {
            "title": data["title"],
            "description": data["description"],
            "category": data["category"],
            "tags": data["tags"],
            **({} if self.fields["status"].disabled else {"status": data["status"]}),
            "affiliate_rate_bp": int(percent * 100),
            "external_url": data["external_url"],
            "option1_name": data["option1_name"],
            "option2_name": data["option2_name"],
            "option3_name": data["option3_name"],
        }


# The service's field names for a variant, and the form field that shows their errors.
VARIANT_ERROR_FIELDS = {
    "price_minor": "price",
    "compare_at_minor": "compare_at",
    "stock": "stock",
    "sku": "sku",
    "grams": "grams",
    "option1": "option1",
    "option2": "option2",
    "option3": "option3",
}


class VariantForm(forms.Form):
    # The variant's id on the edit page; empty for a row added there or on the new page.
    id = forms.IntegerField(required=False, widget=forms.HiddenInput)
    option1 = forms.CharField(label="Option 1", required=False, max_length=120)
    option2 = forms.CharField(label="Option 2", required=False, max_length=120)
    option3 = forms.CharField(label="Option 3", required=False, max_length=120)
    sku = forms.CharField(label="SKU", required=False, max_length=64)
    price = forms.CharField(max_length=20, widget=forms.TextInput(attrs={"inputmode": "decimal"}))
    compare_at = forms.CharField(
        label="Compare-at price",
        required=False,
        max_length=20,
        widget=forms.TextInput(attrs={"inputmode": "decimal"}),
    )
    stock = forms.IntegerField(min_value=0, initial=0)
    grams = forms.IntegerField(label="Weight (g)", min_value=0, initial=0, required=False)

    def __init__(self, *args, currency: str, option_names: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.currency = currency
        self.option_names = option_names
        self.fields["price"].label = f"Price ({currency})"
        self.fields["compare_at"].label = f"Compare-at price ({currency})"
        existing = self.data.get(self.add_prefix("id")) if self.is_bound else self.initial.get("id")
        if existing:
            # Stock of an existing variant is set on its own (the stock rows): a product
            # form opened an hour ago must not write back a count that sales have since
            # lowered.
            del self.fields["stock"]

    def detail_fields(self) -> list[forms.BoundField]:
        return [
            self[name]
            for name in ("sku", "price", "compare_at", "stock", "grams")
            if name in self.fields
        ]

    @property
    def variant_id(self) -> int | None:
        return self.cleaned_data.get("id") if hasattr(self, "cleaned_data") else None

    def option_fields(self) -> list[tuple[forms.BoundField, str, bool]]:
        """Each option input with the name the merchant gave it (or Option n), and whether
        it is in use, so that a product without options shows no option inputs."""
        result = []
        for i, name in zip(OPTION_SLOTS, self.option_names, strict=True):
            field = self[f"option{i}"]
            result.append(
                (field, name or f"Option {i}", bool(name or field.value() or field.errors))
            )
        return result

    @classmethod
    def initial_for(cls, variant: Variant, currency: str) -> dict:
        return {
            "id": variant.pk,
            "option1": variant.option1,
            "option2": variant.option2,
            "option3": variant.option3,
            "sku": variant.sku,
            "price": format_plain(variant.price_minor, currency),
            "compare_at": ""
            if variant.compare_at_minor is None
            else format_plain(variant.compare_at_minor, currency),
            "grams": variant.grams,
        }

    def _money(self, name: str) -> int | None:
        text = self.cleaned_data.get(name, "").strip()
        if not text:
            return None
        try:
            return parse_minor(text, self.currency)
        except MoneyError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean_price(self) -> int:
        return self._money("price")

    def clean_compare_at(self) -> int | None:
        return self._money("compare_at")

    @property
    def options(self) -> tuple[str, str, str]:
        return tuple(self.cleaned_data.get(f"option{i}", "").strip() for i in OPTION_SLOTS)

    def service_data(self) -> dict:
        """The row in the services' terms (prices in minor units)."""
        data = self.cleaned_data
        result = {
            "sku": data["sku"],
            "option1": data["option1"],
            "option2": data["option2"],
            "option3": data["option3"],
            "price_minor": data["price"],
            "compare_at_minor": data["compare_at"],
            "grams": data.get("grams") or 0,
        }
        if "stock" in self.fields:
            result["stock"] = data["stock"]
        return result


class BaseVariantFormSet(forms.BaseFormSet):
    """The variant rows of one product, checked together: every row has a value for each
    named option and none for an unnamed one, no two rows share options or a SKU."""

    def __init__(
        self,
        *args,
        option_names: list[str],
        currency: str,
        known_ids: frozenset[int] = frozenset(),
        **kwargs,
    ):
        self.option_names = option_names
        self.known_ids = known_ids
        super().__init__(
            *args, form_kwargs={"currency": currency, "option_names": option_names}, **kwargs
        )

    def rows(self) -> list[VariantForm]:
        """The rows to save: existing ones and added ones the merchant filled in."""
        return [f for f in self.forms if f.cleaned_data and (f.variant_id or f.has_changed())]

    def clean(self):
        if any(self.errors):
            return
        rows = self.rows()
        if not rows:
            raise forms.ValidationError("A product needs at least one variant.")
        if len(rows) > 1 and not any(self.option_names):
            raise forms.ValidationError("Name an option (like Size) to sell more than one variant.")
        seen_options: set[tuple[str, ...]] = set()
        seen_skus: set[str] = set()
        for form in rows:
            if form.variant_id and form.variant_id not in self.known_ids:
                form.add_error(None, "This variant was removed meanwhile: reload the page.")
            for i, (name, value) in enumerate(
                zip(self.option_names, form.options, strict=True), start=1
            ):
                if name and not value:
                    form.add_error(f"option{i}", f"Give this variant a {name}.")
                elif value and not name:
                    form.add_error(f"option{i}", f"Name option {i} above first.")
            if form.options in seen_options:
                form.add_error(None, "Two variants cannot have the same options.")
            seen_options.add(form.options)
            sku = form.cleaned_data["sku"].strip()
            if sku and sku in seen_skus:
                form.add_error("sku", f"The SKU {sku!r} is used twice in this product.")
            seen_skus.add(sku)


VariantFormSet = forms.formset_factory(
    VariantForm,
    formset=BaseVariantFormSet,
    extra=0,
    min_num=1,
    validate_min=True,
    max_num=100,
    validate_max=True,
)


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input, as Django's documentation shows."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": IMAGE_ACCEPT}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data]
        return [single(data, initial)] if data else []


class ProductImagesForm(forms.Form):
    images = MultipleFileField(label="Add images")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The limits are settings: read them when the form is made, not at import.
        self.fields["images"].help_text = (
            f"JPEG, PNG, WebP or GIF, up to {settings.PRODUCT_IMAGE_MAX_BYTES // 2**20} MB and "
            f"{settings.PRODUCT_IMAGE_MAX_PIXELS // 1_000_000} megapixels each; "
            f"{settings.PRODUCT_MAX_IMAGES} images at most."
        )


class StockForm(forms.Form):
    stock = forms.IntegerField(min_value=0, max_value=2_000_000_000)
