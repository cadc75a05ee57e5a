from datetime import date

import pytest
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string

from payments.cards import card_brand, card_validate, luhn_valid, normalize_number, parse_expiry
from payments.errors import InvalidCard, PaymentMethodNotFound, TooManyPaymentMethods
from payments.forms import CardForm
from payments.provider_models import PaymentMethod, SimulatedCard
from payments.provider_services import (
    MAX_PAYMENT_METHODS,
    payment_method_add,
    payment_method_default,
    payment_method_delete,
    payment_method_set_default,
)
from tests.factories import UserFactory

TODAY = date(2026, 11, 22)


def valid(**overrides):
    card = {"number": "4242 4242 4242 4242", "exp_month": 4, "exp_year": 2029, "cvc": "123"}
    return card_validate(**{**card, **overrides}, today=TODAY)


def refused(**overrides) -> dict[str, list[str]]:
    with pytest.raises(InvalidCard) as error:
        valid(**overrides)
    assert error.value.status == 400 and error.value.code == "invalid_card"
    return error.value.fields


# --- Luhn, brands, numbers --------------------------------------------------------------


@pytest.mark.parametrize(
    "number",
    ["4242424242424242", "4000000000000002", "4000000000003220", "378282246310005", "79927398713"],
)
def test_luhn_accepts_valid_numbers(number):
    assert luhn_valid(number)


@pytest.mark.parametrize(
    "number", ["4242424242424241", "79927398710", "", "4242x42424242424", "٤٢"]
)
def test_luhn_refuses_a_wrong_check_digit_and_non_digits(number):
    assert not luhn_valid(number)


@pytest.mark.parametrize(
    "number, brand",
    [
        ("4242424242424242", "visa"),
        ("4222222222222", "visa"),
        ("5555555555554444", "mastercard"),
        ("2223003122003222", "mastercard"),
        ("378282246310005", "amex"),
        ("371449635398431", "amex"),
        ("6011111111111117", "discover"),
        ("6445644564456445", "discover"),
        ("3056930009020004", "diners"),
        ("36227206271667", "diners"),
        ("3566002020360505", "jcb"),
        ("6200000000000005", "unionpay"),
        ("9000000000000008", "unknown"),
    ],
)
def test_brand_from_the_prefix(number, brand):
    assert card_brand(number) == brand


def test_spaces_and_hyphens_are_ignored_and_only_the_last_four_kept():
    assert normalize_number(" 4242 4242-4242 4242 ") == "4242424242424242"
    card = valid(number="4242-4242-4242-4242")
    assert (card.brand, card.last4, card.exp_month, card.exp_year) == ("visa", "4242", 4, 2029)
    assert "4242424242424242" not in repr(card)


@pytest.mark.parametrize(
    "number, message",
    [
        ("", "Enter the card number."),
        ("4242 4242 4242 424a", "A card number has digits only."),
        ("4242", "A card number has 12 to 19 digits."),
        ("42424242424242424242", "A card number has 12 to 19 digits."),
        ("424242424242424", "Visa numbers do not have 15 digits."),
        ("4242424242424241", "This card number is not valid; check it for a typing mistake."),
    ],
)
def test_bad_numbers_are_refused_with_a_message(number, message):
    assert refused(number=number)["number"] == [message]


# --- expiry and security code ------------------------------------------------------------


def test_an_expiry_in_the_past_is_refused_and_this_month_accepted():
    assert refused(exp_month=10, exp_year=2026) == {"exp_year": ["This card has expired."]}
    assert refused(exp_month=12, exp_year=2025) == {"exp_year": ["This card has expired."]}
    assert valid(exp_month=11, exp_year=2026).exp_year == 2026  # valid to the month's end
    assert valid(exp_month=1, exp_year=29).exp_year == 2029


@pytest.mark.parametrize(
    "month, year, field",
    [
        (0, 2029, "exp_month"),
        (13, 2029, "exp_month"),
        (True, 2029, "exp_month"),
        (4, 2099, "exp_year"),
    ],
)
def test_impossible_expiry_values_are_refused(month, year, field):
    assert field in refused(exp_month=month, exp_year=year)


@pytest.mark.parametrize(
    "number, cvc",
    [
        ("4242424242424242", ""),
        ("4242424242424242", "12"),
        ("4242424242424242", "1234"),
        ("4242424242424242", "12a"),
        ("378282246310005", "123"),
    ],
)
def test_a_bad_security_code_is_refused(number, cvc):
    assert "cvc" in refused(number=number, cvc=cvc)


def test_american_express_takes_four_digits():
    assert valid(number="378282246310005", cvc="1234").brand == "amex"


def test_every_problem_is_reported_at_once():
    fields = refused(number="4242424242424241", exp_month=1, exp_year=2020, cvc="x")
    assert set(fields) == {"number", "exp_year", "cvc"}


@pytest.mark.parametrize(
    "text, expected", [("04/29", (4, 2029)), ("4 / 2029", (4, 2029)), (" 12/30 ", (12, 2030))]
)
def test_expiry_as_typed(text, expected):
    assert parse_expiry(text) == expected


@pytest.mark.parametrize("text", ["", "0429", "04-29", "4/2", "aa/bb", "04/029"])
def test_unreadable_expiry_is_refused(text):
    with pytest.raises(InvalidCard) as error:
        parse_expiry(text)
    assert "expiry" in error.value.fields


# --- the form and its partial ------------------------------------------------------------


def test_the_form_hands_the_service_clean_values():
    form = CardForm(data={"number": "4242 4242 4242 4242", "expiry": "04/39", "cvc": "123"})
    assert form.is_valid(), form.errors
    data = form.cleaned_data
    assert (data["number"], data["exp_month"], data["exp_year"]) == ("4242424242424242", 4, 2039)


def test_the_form_puts_each_problem_on_its_field():
    form = CardForm(data={"number": "4242 4242 4242 4241", "expiry": "01/20", "cvc": "1"})
    assert not form.is_valid()
    assert set(form.errors) == {"number", "expiry", "cvc"}
    form = CardForm(data={"number": "4242424242424242", "expiry": "0439", "cvc": "123"})
    assert not form.is_valid()
    assert form.errors["expiry"] == ["Enter the expiry as MM/YY, like 04/29."]


def test_the_partial_has_autofill_fields_and_the_test_cards(settings):
    settings.PAYMENTS_PROVIDER = "simulated"
    html = render_to_string("payments/partials/card_form.html", {"form": CardForm()})
    for token in ("cc-number", "cc-exp", "cc-csc"):
        assert f'autocomplete="{token}"' in html
    assert "4000 0000 0000 3220" in html
    bound = CardForm(data={"number": "1", "expiry": "x", "cvc": ""})
    bound.is_valid()
    html = render_to_string("payments/partials/card_form.html", {"form": bound})
    assert 'role="alert"' in html and "has-error" in html


# --- saved payment methods ---------------------------------------------------------------


def add(user, number="4242424242424242", **kwargs):
    kwargs.setdefault("exp_month", 4)
    kwargs.setdefault("exp_year", 2039)
    kwargs.setdefault("cvc", "123")
    return payment_method_add(user=user, number=number, **kwargs)


@pytest.mark.django_db
def test_the_first_card_is_the_default_and_no_number_is_stored():
    user = UserFactory()
    method = add(user, number="5555 5555 5555 4444", make_default=False)
    assert method.is_default and payment_method_default(user=user) == method
    assert (method.provider, method.brand, method.last4, method.expiry) == (
        "simulated",
        "mastercard",
        "4444",
        "04/39",
    )
    assert method.token.startswith("pm_sim_")
    stored = [PaymentMethod.objects.values(), SimulatedCard.objects.values()]
    assert "5555555555554444" not in str([list(rows) for rows in stored])
    columns = {
        field.name for model in (PaymentMethod, SimulatedCard) for field in model._meta.fields
    }
    assert not {"number", "cvc"} & columns


@pytest.mark.django_db
def test_a_new_card_takes_the_default_only_when_asked():
    user = UserFactory()
    first = add(user)
    second = add(user, make_default=False)
    assert payment_method_default(user=user) == first and not second.is_default
    third = add(user, number="5555555555554444")
    assert payment_method_default(user=user) == third
    assert PaymentMethod.objects.filter(user=user, is_default=True).count() == 1


@pytest.mark.django_db
def test_an_invalid_card_is_refused_with_fields_and_nothing_is_saved():
    user = UserFactory()
    with pytest.raises(InvalidCard) as error:
        add(user, number="4242424242424241", cvc="1")
    assert set(error.value.fields) == {"number", "cvc"}
    assert not PaymentMethod.objects.exists() and not SimulatedCard.objects.exists()


@pytest.mark.django_db
def test_set_default_moves_it_and_only_for_the_owner():
    alice, bob = UserFactory(), UserFactory()
    first, second = add(alice), add(alice, make_default=False)
    bobs = add(bob)
    assert payment_method_set_default(user=alice, payment_method_id=second.pk).is_default
    assert payment_method_default(user=alice) == second
    with pytest.raises(PaymentMethodNotFound) as error:
        payment_method_set_default(user=alice, payment_method_id=bobs.pk)
    assert error.value.status == 404
    assert payment_method_default(user=bob) == bobs
    first.refresh_from_db()
    assert not first.is_default


@pytest.mark.django_db
def test_delete_only_the_owners_card_and_the_newest_left_becomes_default():
    alice, bob = UserFactory(), UserFactory()
    oldest = add(alice, make_default=False)
    newest = add(alice, make_default=False)
    default = add(alice)
    bobs = add(bob)
    with pytest.raises(PaymentMethodNotFound):
        payment_method_delete(user=alice, payment_method_id=bobs.pk)
    assert PaymentMethod.objects.filter(pk=bobs.pk).exists()
    payment_method_delete(user=alice, payment_method_id=default.pk)
    assert payment_method_default(user=alice) == newest
    payment_method_delete(user=alice, payment_method_id=oldest.pk)
    assert payment_method_default(user=alice) == newest
    payment_method_delete(user=alice, payment_method_id=newest.pk)
    assert payment_method_default(user=alice) is None
    with pytest.raises(PaymentMethodNotFound):
        payment_method_delete(user=alice, payment_method_id=newest.pk)


@pytest.mark.django_db
def test_an_account_holds_a_bounded_number_of_cards():
    user = UserFactory()
    for _ in range(MAX_PAYMENT_METHODS):
        add(user, make_default=False)
    with pytest.raises(TooManyPaymentMethods):
        add(user)
    assert PaymentMethod.objects.filter(user=user).count() == MAX_PAYMENT_METHODS


@pytest.mark.django_db
def test_the_database_refuses_a_second_default():
    user = UserFactory()
    method = add(user)
    with pytest.raises(IntegrityError), transaction.atomic():
        PaymentMethod.objects.create(
            user=user,
            provider="simulated",
            token="pm_sim_other",
            brand="visa",
            last4="4242",
            exp_month=1,
            exp_year=2039,
            is_default=True,
        )
    assert list(PaymentMethod.objects.filter(user=user)) == [method]
