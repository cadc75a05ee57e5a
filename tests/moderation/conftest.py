import pytest
from django.test import Client

from moderation.roles import FINANCE, MODERATORS, roles_ensure
from tests.factories import UserFactory
from tests.gifting.test_payouts import earner, queued  # noqa: F401 (fixtures used here)
from tests.orders.conftest import buyer, seller, shirt  # noqa: F401 (fixtures used here)
from tests.streams.conftest import (  # noqa: F401 (fixtures used here)
    _fresh_live_state,
    flush_layer,
    live,
    live_host,
    products,
)


def staff_member(handle: str, role: str | None):
    """A staff user in a role's group (made again if a flushed database lost it)."""
    from django.contrib.auth.models import Group

    roles_ensure()
    user = UserFactory(handle=handle, is_staff=True)
    if role is not None:
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def moderator(db):
    return staff_member("mod", MODERATORS)


@pytest.fixture
def finance(db):
    return staff_member("fin", FINANCE)


def admin_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client
