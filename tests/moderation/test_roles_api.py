"""Staff powers outside admin follow the roles too: a staff account alone is not a host's
or a shop's stand-in. Finance cannot end a live or hide chat through the host API, a
moderator cannot refund through the shop API; a superuser can do all."""

import pytest

from orders.models import Order
from streams.models import ChatMessage, Stream
from tests.factories import UserFactory
from tests.orders.test_lifecycle import delivered

pytestmark = pytest.mark.django_db


def test_finance_cannot_end_a_live_or_hide_its_chat_through_the_api(
    api_client, live, finance, moderator
):
    line = ChatMessage.objects.create(stream=live, user=UserFactory(handle="loud"), text="hi")
    api_client.force_authenticate(finance)
    assert api_client.post(f"/api/v1/streams/{live.pk}/end/").status_code == 403
    assert api_client.delete(f"/api/v1/chat/{line.pk}/").status_code == 403
    assert Stream.objects.get(pk=live.pk).status == "live"
    assert not ChatMessage.objects.get(pk=line.pk).hidden

    api_client.force_authenticate(moderator)
    assert api_client.delete(f"/api/v1/chat/{line.pk}/").status_code == 204
    assert api_client.post(f"/api/v1/streams/{live.pk}/end/").status_code == 200


def test_a_moderator_cannot_refund_through_the_shop_api(
    api_client, buyer, seller, shirt, moderator, finance
):
    order = delivered(buyer, seller, shirt)
    url = f"/api/v1/shop/orders/{order.pk}/refund/"
    api_client.force_authenticate(moderator)
    response = api_client.post(url, {}, format="json", HTTP_IDEMPOTENCY_KEY="refund-1")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "not_your_order"
    assert Order.objects.get(pk=order.pk).status == "delivered"
    api_client.force_authenticate(finance)
    response = api_client.post(url, {}, format="json", HTTP_IDEMPOTENCY_KEY="refund-2")
    assert response.status_code == 200
    assert Order.objects.get(pk=order.pk).status == "refunded"
