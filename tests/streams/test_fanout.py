"""The live fan-out (streams.fanout): every viewer gets every event in order, a viewer that
does not keep up is cut off without holding the others back, and a viewer that missed
events ends with the same state as everyone else."""

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async

from streams import events, fanout, services
from tests.streams.conftest import connect, receive_type

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("flush_layer")]


class Socket:
    """A viewer's socket as the server's send sees it: frames in order, or stalled (a
    client that reads nothing: the send waits for ever)."""

    def __init__(self, stalled=False):
        self.frames = []
        self.stalled = stalled
        self.cut = None
        self.gate = asyncio.Event()

    async def send(self, message):
        if self.stalled:
            await self.gate.wait()
        self.frames.append(message["text"])

    async def join(self, hub, stream_id):
        viewer = fanout.Viewer(self.send, on_cut=lambda code: setattr(self, "cut", code))
        await hub.join(stream_id, viewer)
        await viewer.start()
        return viewer


async def test_every_viewer_gets_every_event_in_order_and_a_stalled_one_is_cut_off(live, settings):
    settings.LIVE_FANOUT_BACKLOG_FRAMES = 20
    hub = fanout.hub()
    sockets = [Socket() for _ in range(50)]
    stalled = Socket(stalled=True)
    for socket in [*sockets, stalled]:
        await socket.join(hub, live.pk)
    assert hub.viewers(live.pk) == 51

    count = 60

    @sync_to_async
    def publish():
        for n in range(count):
            events.send_now(live.pk, "likes", {"total": n})

    await publish()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while any(len(s.frames) < count for s in sockets):
        assert loop.time() < deadline, "events did not all arrive"
        await asyncio.sleep(0.05)

    for socket in sockets:
        totals = [json.loads(text)["data"]["total"] for text in socket.frames]
        assert totals == list(range(count))
        seqs = [json.loads(text)["seq"] for text in socket.frames]
        assert seqs == sorted(seqs) and len(set(seqs)) == count
    # The stalled viewer got the first frame stuck in its send, then 20 queued, then it
    # was cut off: dropped from the live, its queue emptied.
    assert stalled.cut == fanout.CUT_OFF_CODE
    assert hub.viewers(live.pk) == 50
    assert stalled.frames == []
    stalled.gate.set()


async def test_a_viewer_that_missed_events_resyncs_to_the_same_state(live, live_host, products):
    watcher, _ = await connect(live.pk)
    missing, _ = await connect(live.pk)

    # Cut the second viewer off, as if it had fallen behind: it stops getting events and
    # its socket is closed with 4408.
    (room,) = fanout.hub().rooms.values()
    # Its socket's send is the test communicator's output queue.
    (cut_off,) = [v for v in room.viewers if v.send.__self__ is missing.output_queue]
    cut_off.cut(fanout.CUT_OFF_CODE)
    closed = await missing.receive_output(timeout=5)
    assert closed == {"type": "websocket.close", "code": fanout.CUT_OFF_CODE}

    @sync_to_async
    def pin_each():
        services.carousel_set(stream=live, actor=live_host, product_ids=[p.pk for p in products])
        for product in products:
            services.carousel_pin(stream=live, actor=live_host, product_id=product.pk)

    await pin_each()
    last = None
    for _ in range(1 + len(products)):  # the carousel set, then each pin
        last = await receive_type(watcher, "carousel.updated")
    await watcher.disconnect()

    # Reconnecting, the viewer that missed all of it starts from a snapshot: the same
    # carousel, the same product pinned, a seq at least that of the last event.
    again, snapshot = await connect(live.pk)
    assert snapshot["data"]["carousel"] == last["data"]["items"]
    assert snapshot["seq"] >= last["seq"]
    await again.disconnect()


async def test_a_banned_users_sockets_close_through_the_hub(live):
    from tests.factories import UserFactory

    user = await sync_to_async(UserFactory)(handle="gone")
    socket, _ = await connect(live.pk, user)
    other, _ = await connect(live.pk)
    await sync_to_async(fanout.sign_out)(user.pk)
    assert await socket.receive_output(timeout=5) == {"type": "websocket.close", "code": 4401}
    assert await other.receive_nothing(timeout=0.3)
    await other.disconnect()


async def test_leaving_empties_the_room_and_the_subscription_goes(live, settings):
    settings.LIVE_FANOUT_UNSUBSCRIBE_AFTER = 0.2
    sockets = [await connect(live.pk) for _ in range(20)]
    hub = fanout.hub()
    assert hub.viewers(live.pk) == 20
    await asyncio.gather(*(socket.disconnect() for socket, _ in sockets))
    assert hub.viewers(live.pk) == 0
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while live.pk in hub.rooms:
        assert loop.time() < deadline, "the empty room was kept"
        await asyncio.sleep(0.1)
    if hub._pubsub is not None:  # with Redis: nobody here listens to the live any more
        channels = {c.decode() for c in hub._pubsub.channels}
        assert fanout.channel(live.pk) not in channels


async def test_a_viewer_behind_gets_the_newest_state_and_every_chat_line(live, settings):
    settings.LIVE_FANOUT_BACKLOG_FRAMES = 50
    hub = fanout.hub()
    slow = Socket(stalled=True)
    viewer = await slow.join(hub, live.pk)
    sent = [
        ("chat.message", {"id": 1}),  # stuck in the socket's send: the rest waits
        ("chat.message", {"id": 2}),
        ("likes", {"total": 1}),
        ("stock.changed", {"product": 7, "stock": 5}),
        ("likes", {"total": 2}),
        ("stock.changed", {"product": 8, "stock": 1}),
        ("stock.changed", {"product": 7, "stock": 4}),
        ("chat.message", {"id": 3}),
        ("likes", {"total": 3}),
    ]

    @sync_to_async
    def publish():
        for kind, data in sent:
            events.send_now(live.pk, kind, data)

    await publish()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while viewer.backlog is None or len(viewer.backlog) < len(sent) - 1:
        assert loop.time() < deadline, "the events did not reach the backlog"
        await asyncio.sleep(0.05)
    slow.stalled = False
    slow.gate.set()
    while len(slow.frames) < len(sent):
        assert loop.time() < deadline, "the backlog was not sent"
        await asyncio.sleep(0.05)

    frames = [json.loads(text) for text in slow.frames]
    seqs = [frame["seq"] for frame in frames]
    assert seqs == list(range(seqs[0], seqs[0] + len(sent)))  # no gap: no resync
    assert [(f["type"], f.get("data")) for f in frames] == [
        ("chat.message", {"id": 1}),
        ("chat.message", {"id": 2}),
        ("superseded", None),
        ("superseded", None),
        ("superseded", None),
        ("stock.changed", {"product": 8, "stock": 1}),
        ("stock.changed", {"product": 7, "stock": 4}),
        ("chat.message", {"id": 3}),
        ("likes", {"total": 3}),
    ]


async def test_events_published_while_a_viewer_joins_wait_for_its_snapshot(live):
    """The consumer joins the live before it builds the snapshot (so nothing published in
    between is lost), and the hub holds those events until the snapshot has gone first."""
    hub = fanout.hub()
    socket = Socket()
    viewer = fanout.Viewer(socket.send)
    await hub.join(live.pk, viewer)
    hub.deliver(live.pk, '{"type":"likes","seq":7,"data":{"total":1}}')
    hub.deliver(live.pk, '{"type":"chat.message","seq":8,"data":{"id":1}}')
    assert socket.frames == []  # the snapshot is not out yet
    await socket.send({"type": "websocket.send", "text": '{"type":"snapshot","seq":6}'})
    await viewer.start()
    hub.deliver(live.pk, '{"type":"likes","seq":9,"data":{"total":2}}')
    assert [json.loads(text)["seq"] for text in socket.frames] == [6, 7, 8, 9]


async def test_a_snapshot_after_a_lost_subscription_goes_before_the_events_of_its_making(live):
    """Once Redis is back the hub sends every viewer a fresh snapshot. Events that arrive
    while it is built wait behind it: sent after them, it would take the viewer back to an
    older seq and cost it a resync."""
    hub = fanout.hub()
    keeping_up, behind = Socket(), Socket(stalled=True)
    for socket in (keeping_up, behind):
        await socket.join(hub, live.pk)
    hub.deliver(live.pk, '{"type":"chat.message","seq":5,"data":{"id":1}}')  # behind waits
    building = asyncio.Event()
    release = asyncio.Event()

    async def slow_snapshot(stream_id):
        building.set()
        await release.wait()
        return '{"type":"snapshot","seq":6}'

    original = hub.snapshotter
    hub.snapshotter = slow_snapshot
    try:
        task = asyncio.create_task(hub._resync([live.pk]))
        await building.wait()
        hub.deliver(live.pk, '{"type":"likes","seq":7,"data":{"total":1}}')
        hub.deliver(live.pk, '{"type":"chat.message","seq":8,"data":{"id":2}}')
        release.set()
        await task
        behind.stalled = False
        behind.gate.set()
        for _ in range(20):
            await asyncio.sleep(0)
        hub.deliver(live.pk, '{"type":"likes","seq":9,"data":{"total":2}}')
    finally:
        hub.snapshotter = original
    seqs = [json.loads(text)["seq"] for text in keeping_up.frames]
    assert seqs == [5, 6, 7, 8, 9]
    # The one behind gets the snapshot in its turn: it supersedes what was queued before.
    assert [json.loads(text)["seq"] for text in behind.frames][-1] == 9
    assert json.loads(behind.frames[0])["seq"] == 5


async def test_a_resync_asked_on_the_socket_answers_before_newer_events(live, monkeypatch):
    """A viewer that saw a gap asks for a snapshot: events published while it is built
    come after it, never before."""
    from streams import consumers

    socket, first = await connect(live.pk)
    building = asyncio.Event()
    release = asyncio.Event()
    real = consumers.snapshot_frame

    async def slow(stream_id):
        frame = await real(stream_id)
        building.set()
        await release.wait()
        return frame

    monkeypatch.setattr(consumers, "snapshot_frame", slow)
    await socket.send_json_to({"type": "resync"})
    await building.wait()
    hub = fanout.hub()
    newer = first["seq"] + 1000
    marker = {"type": "chat.message", "seq": newer, "data": {"id": -1}}
    hub.deliver(live.pk, json.dumps(marker))
    release.set()
    seen = []
    while not seen or seen[-1]["type"] != "snapshot":
        seen.append(await socket.receive_json_from(timeout=5))
    assert marker not in seen  # nothing newer came before the snapshot
    while seen[-1] != marker:
        seen.append(await socket.receive_json_from(timeout=5))
    await socket.disconnect()


async def test_a_crowd_joining_a_quiet_live_shares_one_snapshot_without_asking_redis(
    live, live_host, products, monkeypatch
):
    from streams import realtime

    asked = []
    real = realtime.acurrent_seq

    async def counted(stream_id):
        asked.append(stream_id)
        return await real(stream_id)

    monkeypatch.setattr(realtime, "acurrent_seq", counted)
    first, snapshot = await connect(live.pk)
    before = len(asked)
    crowd = [await connect(live.pk) for _ in range(10)]
    assert len(asked) == before  # the hub saw no event since: the snapshot is current
    # The same snapshot, each with the viewer count of its moment.
    assert {s["seq"] for _, s in crowd} == {snapshot["seq"]}
    assert all(s["data"]["carousel"] == snapshot["data"]["carousel"] for _, s in crowd)

    # Once an event reaches the live, the next viewer's snapshot has it.
    @sync_to_async
    def pin():
        services.carousel_pin(stream=live, actor=live_host, product_id=products[0].pk)

    await pin()
    event = await receive_type(first, "carousel.updated")
    late, fresh = await connect(live.pk)
    assert fresh["seq"] >= event["seq"]
    assert fresh["data"]["carousel"] == event["data"]["items"]
    for socket in [first, late, *(c for c, _ in crowd)]:
        await socket.disconnect()
