from django import template

from payments.money import format_money

register = template.Library()


@register.filter
def money(minor, currency="USD"):
    """{{ product.price_minor|money:product.currency }}"""
    if minor in (None, ""):
        return ""
    return format_money(int(minor), currency)
