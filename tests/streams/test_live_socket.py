import asyncio
import json

import pytest
from asgiref.sync import sync_to_async
from rest_framework.test import APIClient

from streams import events, services
from streams.models import ChatMessage, Stream
from tests.factories import UserFactory
from tests.streams.conftest import connect, receive, receive_type

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("flush_layer")]


def _api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


async def test_snapshot_first_then_pin_event_with_next_seq(live, live_host, products):
    viewer, snapshot = await connect(live.pk)
    data = snapshot["data"]
    assert data["stream"]["status"] == "live"
    assert data["carousel"] == [] and data["deal"] is None
    response = await sync_to_async(_api(live_host).post)(
        f"/api/v1/streams/{live.pk}/pin/", {"product": products[0].pk}, format="json"
    )
    assert response.status_code == 200, response.content
    event = await receive_type(viewer, "carousel.updated")
    assert event["seq"] == snapshot["seq"] + 1
    assert event["ts"].endswith("Z")
    (item,) = event["data"]["items"]
    assert (item["product"], item["pinned"], item["stock"], item["price"]) == (
        products[0].pk,
        True,
        7,
        4900,
    )
    await viewer.disconnect()


async def test_chat_reaches_everyone_escaped_by_the_client(live):
    chatter = await sync_to_async(UserFactory)(handle="mia")
    sender, _ = await connect(live.pk, chatter)
    watcher, _ = await connect(live.pk)
    await sender.send_to(
        text_data=json.dumps(
            {"type": "chat.send", "data": {"text": "<script>alert(1)</script> hi"}}
        )
    )
    for communicator in (sender, watcher):
        event = await receive_type(communicator, "chat.message")
        assert event["data"]["text"] == "<script>alert(1)</script> hi"
        assert event["data"]["user"]["handle"] == "mia"
    assert await sync_to_async(ChatMessage.objects.count)() == 1
    await sender.disconnect()
    await watcher.disconnect()


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("{not json", "bad_json"),
        ('["a list"]', "bad_message"),
        ('{"type": "dance"}', "unknown_type"),
        ('{"type": "carousel.pin", "data": {"product": 1}}', "forbidden"),
        ('{"type": "deal.start"}', "forbidden"),
        (json.dumps({"type": "chat.send", "data": {"text": "x" * 10_000}}), "too_large"),
        ('{"type": "chat.send", "data": "hello"}', "bad_message"),
    ],
)
async def test_bad_frames_get_an_error_and_the_socket_stays_open(live, frame, code):
    user = await sync_to_async(UserFactory)()
    viewer, _ = await connect(live.pk, user)
    await viewer.send_to(text_data=frame)
    error = await receive_type(viewer, "error")
    assert error["data"]["code"] == code
    await viewer.send_to(
        text_data=json.dumps({"type": "chat.send", "data": {"text": "still here"}})
    )
    assert (await receive_type(viewer, "chat.message"))["data"]["text"] == "still here"
    assert await sync_to_async(ChatMessage.objects.count)() == 1
    await viewer.disconnect()


async def test_chat_flood_is_rate_limited(live):
    user = await sync_to_async(UserFactory)()
    viewer, _ = await connect(live.pk, user)
    for n in range(20):
        await viewer.send_to(text_data=json.dumps({"type": "chat.send", "data": {"text": f"m{n}"}}))
    kinds = []
    for _ in range(20):
        message = await receive(viewer)
        while message["type"] in ("likes", "viewers"):
            message = await receive(viewer)
        kinds.append(message["type"] if message["type"] != "error" else message["data"]["code"])
    assert kinds.count("chat.message") == 5
    assert kinds.count("rate_limited") == 15
    assert await sync_to_async(ChatMessage.objects.count)() == 5
    await viewer.send_to(text_data='{"type": "ping"}')
    assert (await receive_type(viewer, "error"))["data"]["code"] == "unknown_type"
    await viewer.disconnect()


async def test_resyncs_are_answered_with_a_snapshot_within_a_limit(live):
    viewer, first = await connect(live.pk)
    answers = []
    for _ in range(7):
        await viewer.send_to(text_data='{"type": "resync"}')
        message = await receive(viewer)
        while message["type"] in ("likes", "viewers"):
            message = await receive(viewer)
        answers.append(message)
    assert [m["type"] for m in answers[:5]] == ["snapshot"] * 5
    assert answers[0]["seq"] == first["seq"]
    for refused in answers[5:]:
        assert refused["type"] == "error"
        assert refused["data"]["code"] == "rate_limited"
        assert 0 < refused["data"]["retry_after"] <= 60
    await viewer.disconnect()


async def test_anonymous_viewer_cannot_chat(live):
    viewer, _ = await connect(live.pk)
    await viewer.send_to(text_data=json.dumps({"type": "chat.send", "data": {"text": "hi"}}))
    assert (await receive_type(viewer, "error"))["data"]["code"] == "login_required"
    assert await sync_to_async(ChatMessage.objects.count)() == 0
    await viewer.disconnect()


async def test_slow_mode_muted_and_blocked_words(live, live_host):
    user = await sync_to_async(UserFactory)()
    await sync_to_async(services.chat_settings)(
        stream=live, actor=live_host, slow_mode_seconds=30, blocked_words="spoiler\nscam"
    )
    viewer, _ = await connect(live.pk, user)

    async def say(text):
        await viewer.send_to(text_data=json.dumps({"type": "chat.send", "data": {"text": text}}))
        message = await receive(viewer)
        while message["type"] in ("likes", "viewers"):
            message = await receive(viewer)
        return message

    assert (await say("first"))["type"] == "chat.message"
    slow = await say("second")
    assert slow["data"]["code"] == "slow_mode" and slow["data"]["retry_after"] > 0
    await sync_to_async(services.chat_settings)(stream=live, actor=live_host, slow_mode_seconds=0)
    assert (await say("this is a SCAM"))["data"]["code"] == "blocked_word"
    await sync_to_async(services.chat_mute)(stream=live, actor=live_host, user=user)
    assert (await say("let me talk"))["data"]["code"] == "muted"
    assert await sync_to_async(ChatMessage.objects.count)() == 1
    await viewer.disconnect()


async def test_host_deletes_a_line_and_it_disappears(live, live_host):
    user = await sync_to_async(UserFactory)()
    viewer, _ = await connect(live.pk, user)
    await viewer.send_to(text_data=json.dumps({"type": "chat.send", "data": {"text": "oops"}}))
    line = await receive_type(viewer, "chat.message")
    response = await sync_to_async(_api(live_host).delete)(f"/api/v1/chat/{line['data']['id']}/")
    assert response.status_code == 204
    assert (await receive_type(viewer, "chat.deleted"))["data"] == {"id": line["data"]["id"]}
    await viewer.disconnect()
    again, snapshot = await connect(live.pk)
    assert snapshot["data"]["chat"] == []
    await again.disconnect()


async def test_likes_are_batched(live):
    viewer, _ = await connect(live.pk)
    for _ in range(25):
        await viewer.send_to(text_data='{"type": "like"}')
    event = await receive_type(viewer, "likes", timeout=5)
    assert event["data"]["total"] == 25
    # One batch: no second likes event for the same taps in the next ticks.
    await asyncio.sleep(2.2)
    later = []
    while not await viewer.receive_nothing(timeout=0.1):
        later.append((await receive(viewer))["type"])
    assert "likes" not in later
    assert (await sync_to_async(Stream.objects.get)(pk=live.pk)).likes_count == 25
    await viewer.disconnect()


async def test_viewer_count_is_published(live):
    first, _ = await connect(live.pk)
    second, _ = await connect(live.pk)
    event = await receive_type(first, "viewers", timeout=5)
    assert event["data"]["now"] == 2
    await second.disconnect()
    assert (await receive_type(first, "viewers", timeout=5))["data"]["now"] == 1
    assert (await sync_to_async(Stream.objects.get)(pk=live.pk)).peak_viewers == 2
    await first.disconnect()


@pytest.mark.parametrize("state", ["missing", "ended", "cancelled"])
async def test_socket_for_a_missing_or_ended_live_is_closed(live, live_host, state):
    stream_id = live.pk
    if state == "missing":
        stream_id = 999_999
    elif state == "ended":
        await sync_to_async(services.stream_end)(stream=live, actor=live_host)
    else:
        await sync_to_async(Stream.objects.filter(pk=live.pk).update)(status="cancelled")
    viewer, _ = await connect(stream_id, expect_snapshot=False)
    error = await receive(viewer)
    assert error == {
        "type": "error",
        "data": {"code": "not_found", "message": error["data"]["message"]},
    }
    assert (await viewer.receive_output(timeout=3))["type"] == "websocket.close"


async def test_stream_end_is_announced(live, live_host):
    viewer, _ = await connect(live.pk)
    await sync_to_async(services.stream_end)(stream=live, actor=live_host)
    assert (await receive_type(viewer, "stream.state"))["data"]["status"] == "ended"
    await viewer.disconnect()


async def test_stock_edits_reach_the_lives_that_show_the_product(live, live_host, products):
    from shops.services import variant_set_stock

    await sync_to_async(services.carousel_set)(
        stream=live, actor=live_host, product_ids=[products[1].pk]
    )
    viewer, _ = await connect(live.pk)
    variant = await sync_to_async(products[1].variants.get)()
    await sync_to_async(variant_set_stock)(variant=variant, actor=live_host, stock=1)
    event = await receive_type(viewer, "stock.changed")
    assert event["data"] == {"product": products[1].pk, "stock": 1}
    await viewer.disconnect()


async def test_of_two_stock_announcements_at_once_the_later_seq_shows_the_newer_stock(
    live, live_host, products, monkeypatch
):
    """A second order commits while the first one's announcement is under way: whichever
    event a viewer applies last (the highest seq) carries the stock after both."""
    from shops.services import variant_set_stock
    from streams import realtime

    await sync_to_async(services.carousel_set)(
        stream=live, actor=live_host, product_ids=[products[1].pk]
    )
    variant = await sync_to_async(products[1].variants.get)()
    viewer, snapshot = await connect(live.pk)
    real_next_seqs = realtime.next_seqs
    interleaved = []

    def next_seqs_with_another_order_between(stream_id, count):
        # The first announcement, at the moment it numbers its event: the other order
        # commits and is announced in full.
        if not interleaved:
            interleaved.append(True)
            variant_set_stock(variant=variant, actor=live_host, stock=3)
        return real_next_seqs(stream_id, count)

    monkeypatch.setattr(realtime, "next_seqs", next_seqs_with_another_order_between)
    await sync_to_async(variant_set_stock)(variant=variant, actor=live_host, stock=5)
    received = [await receive_type(viewer, "stock.changed") for _ in range(2)]
    last = max(received, key=lambda event: event["seq"])
    assert last["data"] == {"product": products[1].pk, "stock": 3}
    assert sorted(e["seq"] for e in received) == [snapshot["seq"] + 1, snapshot["seq"] + 2]
    await viewer.disconnect()


async def test_a_watched_deal_ends_on_time_by_the_live_tick(live, live_host, products):
    from datetime import timedelta

    from django.utils import timezone

    from streams.models import Deal

    deal = await sync_to_async(services.deal_start)(
        stream=live,
        actor=live_host,
        product_id=products[0].pk,
        price_minor=3000,
        quantity=5,
        seconds=60,
    )
    viewer, snapshot = await connect(live.pk)
    assert snapshot["data"]["deal"]["id"] == deal.pk
    await sync_to_async(Deal.objects.filter(pk=deal.pk).update)(
        ends_at=timezone.now() - timedelta(seconds=1)
    )
    ended = await receive_type(viewer, "deal.ended", timeout=5)
    assert ended["data"]["id"] == deal.pk and ended["data"]["ended_reason"] == "time"
    await viewer.disconnect()


async def test_a_batch_of_events_reaches_the_viewer_as_one_frame_each_in_order(live):
    viewer, snapshot = await connect(live.pk)
    items = [{"n": n, "combo": 1} for n in range(3)]
    # From a plain thread, as a batch of gifts is published (the process's publishing
    # loop with Redis, asgiref's otherwise).
    await sync_to_async(events.send_many, thread_sensitive=False)(live.pk, "gift.sent", items)
    received = [await receive_type(viewer, "gift.sent") for _ in items]
    assert [event["data"]["n"] for event in received] == [0, 1, 2]
    assert [event["seq"] for event in received] == [snapshot["seq"] + n for n in (1, 2, 3)]
    await viewer.disconnect()


async def test_quiet_ticks_ask_the_database_nothing_and_a_deal_started_is_seen(
    live, live_host, products
):
    from streams.consumers import ticker

    viewer, _ = await connect(live.pk)
    await ticker.tick(live.pk)  # the first tick of the live in this process reads it
    first = ticker.known[live.pk]
    for _ in range(3):
        await asyncio.sleep(1)  # the claim is held for 0.9 s
        await ticker.tick(live.pk)
    assert ticker.known[live.pk] is first  # nothing changed: no database read

    deal = await sync_to_async(services.deal_start)(
        stream=live,
        actor=live_host,
        product_id=products[0].pk,
        price_minor=3000,
        quantity=5,
        seconds=60,
    )
    await receive_type(viewer, "deal.started")
    await asyncio.sleep(1)
    await ticker.tick(live.pk)
    # The deal's event made the next tick read the live again: it knows when the deal ends.
    assert ticker.known[live.pk] is not first
    assert ticker.known[live.pk].deal_due == deal.ends_at
    await viewer.disconnect()
