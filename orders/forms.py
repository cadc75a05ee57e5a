"""The buyer's forms: the buy sheet, the bag, addresses and refund requests.

They parse what people type; the services check it again and decide. A choice of
address or card is a saved row's id, or "new" for the address form and card form that
come with it (the first buy sets both up).
"""

from __future__ import annotations

import uuid

from django import forms

from .models import Address, Order
from .services import ADDRESS_LIMITS, MAX_QUANTITY

NEW = "new"


class AddressForm(forms.Form):
    name = forms.CharField(label="Full name", max_length=ADDRESS_LIMITS["name"])
    line1 = forms.CharField(label="Address", max_length=ADDRESS_LIMITS["line1"])
    line2 = forms.CharField(
        label="Apartment, suite (optional)", max_length=ADDRESS_LIMITS["line2"], required=False
    )
    city = forms.CharField(label="City", max_length=ADDRESS_LIMITS["city"])
    region = forms.CharField(
        label="State or region (optional)", max_length=ADDRESS_LIMITS["region"], required=False
    )
    postal_code = forms.CharField(label="Postal code", max_length=ADDRESS_LIMITS["postal_code"])
    country = forms.CharField(
        label="Country code",
        max_length=2,
        min_length=2,
        help_text="Two letters, such as US or DE.",
        widget=forms.TextInput(attrs={"autocomplete": "country", "size": 2}),
    )
    phone = forms.CharField(
        label="Phone (optional)", max_length=ADDRESS_LIMITS["phone"], required=False
    )
    make_default = forms.BooleanField(label="Use for one-tap buying", required=False, initial=True)

    autocomplete = {
        "name": "name",
        "line1": "address-line1",
        "line2": "address-line2",
        "city": "address-level2",
        "region": "address-level1",
        "postal_code": "postal-code",
        "phone": "tel",
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, token in self.autocomplete.items():
            self.fields[name].widget.attrs.setdefault("autocomplete", token)

    def address_data(self) -> dict:
        """What address_add takes as data."""
        return {k: v for k, v in self.cleaned_data.items() if k != "make_default"}


def address_label(address: Address) -> str:
    parts = [address.name, address.line1, address.line2, address.city, address.postal_code]
    return ", ".join(p for p in parts if p) + f" ({address.country})"


class ShipPayForm(forms.Form):
    """Where to ship and what to pay with, and the token that makes a retried checkout
    place its orders once."""

    token = forms.UUIDField(widget=forms.HiddenInput)
    address = forms.ChoiceField(widget=forms.RadioSelect, label="Ship to")
    payment_method = forms.ChoiceField(widget=forms.RadioSelect, label="Pay with")

    def __init__(self, *args, addresses=(), cards=(), **kwargs):
        kwargs.setdefault("initial", {})
        addresses, cards = list(addresses), list(cards)
        default_address = next((a for a in addresses if a.is_default), None)
        default_card = next((c for c in cards if c.is_default), None)
        kwargs["initial"] = {
            "token": uuid.uuid4(),
            "address": str(default_address.pk) if default_address else NEW,
            "payment_method": str(default_card.pk) if default_card else NEW,
            **kwargs["initial"],
        }
        super().__init__(*args, **kwargs)
        self.addresses, self.cards = addresses, cards
        self.fields["address"].choices = [(str(a.pk), address_label(a)) for a in addresses] + [
            (NEW, "A new address")
        ]
        self.fields["payment_method"].choices = [
            (str(c.pk), f"{c} · {c.expiry}") for c in cards
        ] + [(NEW, "A new card")]

    @property
    def chosen_address(self) -> Address | None:
        value = self["address"].value()
        return next((a for a in self.addresses if str(a.pk) == str(value)), None)

    @property
    def chosen_card(self):
        value = self["payment_method"].value()
        return next((c for c in self.cards if str(c.pk) == str(value)), None)

    @property
    def new_address(self) -> bool:
        return self["address"].value() == NEW

    @property
    def new_card(self) -> bool:
        return self["payment_method"].value() == NEW


class BuyForm(ShipPayForm):
    """The buy sheet: one variant of one product, how many, where and how to pay.

    Each variant's price as the sheet showed it travels in price_<variant id>, so that the
    order is refused (PriceChanged) rather than charged at a price the buyer never saw."""

    variant = forms.TypedChoiceField(coerce=int, widget=forms.RadioSelect, label="Option")
    quantity = forms.IntegerField(
        min_value=1,
        max_value=MAX_QUANTITY,
        initial=1,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )

    field_order = ["variant", "quantity", "address", "payment_method", "token"]

    def __init__(self, *args, variants=(), **kwargs):
        variants = list(variants)
        in_stock = [v for v in variants if v.stock > 0]
        first = (in_stock or variants or [None])[0]
        kwargs.setdefault("initial", {})
        kwargs["initial"] = {"variant": first.pk if first else None, **kwargs["initial"]}
        super().__init__(*args, **kwargs)
        self.variants = variants
        self.fields["variant"].choices = [(v.pk, v.title) for v in variants]

    def clean(self):
        cleaned = super().clean()
        variant_id = cleaned.get("variant")
        raw = self.data.get(f"price_{variant_id}", "")
        cleaned["price"] = int(raw) if raw.isdigit() else None
        variant = next((v for v in self.variants if v.pk == variant_id), None)
        if variant is not None and variant.stock <= 0:
            self.add_error("variant", "This option is sold out.")
        return cleaned


class BagAddForm(forms.Form):
    variant = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    quantity = forms.IntegerField(min_value=1, max_value=MAX_QUANTITY, initial=1)
    stream = forms.IntegerField(min_value=1, required=False, widget=forms.HiddenInput)


class BagQuantityForm(forms.Form):
    quantity = forms.IntegerField(min_value=0, max_value=MAX_QUANTITY)


class RefundForm(forms.Form):
    """Why, and how many units of each line (0 leaves a line out)."""

    reason = forms.CharField(
        label="What went wrong?", max_length=500, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args, order: Order, **kwargs):
        super().__init__(*args, **kwargs)
        self.lines = [line for line in order.lines.all() if line.quantity > line.refunded_quantity]
        for line in self.lines:
            left = line.quantity - line.refunded_quantity
            self.fields[f"line_{line.pk}"] = forms.IntegerField(
                label=f"{line.title}{f' ({line.variant_title})' if line.variant_title else ''}",
                min_value=0,
                max_value=left,
                initial=left,
                widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
            )

    def line_fields(self):
        return [self[f"line_{line.pk}"] for line in self.lines]

    def clean(self):
        cleaned = super().clean()
        chosen = {
            line.pk: cleaned[f"line_{line.pk}"]
            for line in self.lines
            if cleaned.get(f"line_{line.pk}")
        }
        if not self.errors and not chosen:
            raise forms.ValidationError("Choose at least one unit to send back.")
        cleaned["lines"] = chosen
        return cleaned
