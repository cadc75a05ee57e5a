import pytest

from tests.factories import ShopFactory


@pytest.fixture
def shop(merchant):
    return ShopFactory(owner=merchant, handle="maxshop", name="Max's Shop")


@pytest.fixture
def rival_shop(db):
    return ShopFactory(handle="rival", name="Rival Shop")
