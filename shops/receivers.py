from accounts.errors import AccountTypeLocked

from .models import Shop


def refuse_leaving_business_with_a_shop(sender, user, **kwargs):
    """A shop belongs to a business account: its owner cannot turn personal."""
    if Shop.objects.filter(owner=user).exists():
        raise AccountTypeLocked()
