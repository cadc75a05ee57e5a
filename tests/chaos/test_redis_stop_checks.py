"""The checks bench/chaos/redis_stop.py adds to the checker (the outbox's follow-up work and
the live viewers' state), on made-up records: no topology, no database."""

from collections import Counter

from bench.chaos.checker import LiveView, Outage, check_follow_up, check_viewers

SUBJECTS = {
    (1, "paid"): ["Order TB1 confirmed", "New order TB1"],
    (2, "paid"): ["Order TB2 confirmed", "New order TB2"],
}


def row(pk, order, what="paid", *, sent=True, attempts=1):
    kwargs = {"order_id": order, "what": what}
    return {"id": pk, "task": "orders.emails", "kwargs": kwargs, "sent": sent, "attempts": attempts}


def follow_up(rows, claims, seen, runs=None):
    return check_follow_up(
        rows=rows,
        paid=[1, 2],
        claims=Counter(claims),
        expected_emails=SUBJECTS,
        seen_emails=Counter(seen),
        email_runs=Counter(runs or {2: 2}),
    )


def all_seen():
    return {subject: 1 for subjects in SUBJECTS.values() for subject in subjects}


def test_every_paid_order_emailed_once_is_sound():
    rows = [row(1, 1), row(2, 2, attempts=3), {**row(3, 0), "task": "outbox.other"}]
    result = follow_up(rows, {(1, "email.paid"): 1, (2, "email.paid"): 1}, all_seen(), {2: 2, 0: 1})
    assert result.problems == []
    assert (result.rows, result.sent, result.relayed, result.emails) == (3, 3, 1, 4)
    assert (result.emails_twice, result.emails_missing) == (0, 0)
    assert result.repeated_runs == 1  # a second delivery that the claim stopped


def test_an_unsent_row_and_a_paid_order_without_emails_are_caught():
    result = follow_up([row(1, 1, sent=False)], {}, {})
    assert result.problems[:2] == [
        "outbox row 1 (orders.emails) was never sent",
        "order 2 was paid without its emails queued",
    ]
    assert "order 1: the paid emails claimed 0 times" in result.problems
    assert "email 'Order TB1 confirmed' sent 0 times, expected 1" in result.problems
    assert result.emails_missing == 2


def test_an_email_sent_twice_or_never_queued_is_caught():
    seen = {**all_seen(), "Order TB2 confirmed": 2, "Order TB9 confirmed": 1}
    claims = {(1, "email.paid"): 1, (2, "email.paid"): 1, (9, "email.paid"): 1}
    result = follow_up([row(1, 1), row(2, 2), row(3, 2)], claims, seen)
    # Queued twice is reported; the emails are still expected once (the claim's promise).
    assert result.problems == [
        "order 2: the paid emails were queued 2 times",
        "order 9: email.paid recorded, yet never queued",
        "email 'Order TB2 confirmed' sent 2 times, expected 1",
        "email 'Order TB9 confirmed' sent 1 times, expected 0",
    ]
    assert (result.emails_twice, result.emails_missing) == (2, 0)


def snapshot(seq, **stock):
    carousel = [{"product": int(p[1:]), "stock": units} for p, units in stock.items()]
    return {"type": "snapshot", "seq": seq, "data": {"seq": seq, "carousel": carousel}}


def stock(seq, product, units):
    return {"type": "stock.changed", "seq": seq, "data": {"product": product, "stock": units}}


def test_a_view_applies_the_next_seq_skips_old_ones_and_wants_a_snapshot_after_a_gap():
    view = LiveView("v")
    assert not view.apply(snapshot(10, p1=5, p2=7), 1.0)
    assert not view.apply(stock(11, 1, 4), 1.1)
    assert not view.apply(stock(9, 1, 99), 1.2)  # already in the snapshot
    assert view.stock == {1: 4, 2: 7} and view.skipped == 1
    assert view.apply(stock(20, 2, 1), 1.3)  # a gap: not applied, a snapshot wanted
    assert view.wants_snapshot and view.stock[2] == 7 and view.gaps == [(1.3, 11, 20)]
    assert not view.apply(stock(21, 2, 0), 1.4)  # the next after the gap is applied
    view.asking += 1
    assert not view.apply(snapshot(21, p1=4, p2=0), 1.5)
    assert not view.wants_snapshot and view.asking == 0
    assert view.snapshots == [(1.0, 10, False), (1.5, 21, True)]
    assert view.events == {"stock.changed": 2}
    assert (view.first_seq["stock.changed"], view.last_seq["stock.changed"]) == (11, 21)
    assert [seq for _, _, seq in view.received] == [10, 11, 9, 20, 21, 21]
    assert view.rewinds == 0


def test_a_snapshot_behind_events_already_received_is_a_rewind():
    view = LiveView("v")
    view.apply(snapshot(10, p1=5), 1.0)
    view.apply(stock(11, 1, 4), 1.1)
    view.apply(stock(12, 1, 3), 1.2)
    view.apply(snapshot(11, p1=4), 1.3)  # built before 12 was published, sent after it
    assert view.rewinds == 1 and view.seq == 11 and view.stock == {1: 4}
    assert view.apply(stock(13, 1, 2), 1.4)  # 12 is not sent again: a gap


def test_a_rate_limited_resync_is_an_answer_to_ask_again():
    view = LiveView("v", asking=1, wants_snapshot=True)
    error = {"type": "error", "data": {"code": "rate_limited", "retry_after": 30}}
    assert not view.apply(error, 2.0)
    assert view.asking == 0 and view.wants_snapshot and view.errors == {"rate_limited": 1}


def watched(name, *snapshots, units=None, open=True):
    view = LiveView(name, open=open, opens=[0.0])
    for at, seq in snapshots:
        view.apply(snapshot(seq, p1=3 if units is None else units), at)
    return view


def test_viewers_with_a_snapshot_after_each_outage_and_the_database_stock_are_sound():
    outages = [Outage(10, 15, 15.1), Outage(25, 30, 30.2)]
    views = [watched("a", (1, 5), (16, 9), (31, 12)), watched("b", (1, 5), (15.5, 9), (40, 13))]
    report = check_viewers(views, outages, {1: 3}, until=50)
    assert report.problems == []
    assert report.snapshots_after == [2, 2] and report.unasked_after == [2, 2]
    assert [round(x, 1) for x in report.latest] == [0.9, 9.8]
    assert report.equal == ["a", "b"]


def test_a_viewer_left_without_a_snapshot_stale_or_closed_is_caught():
    outages = [Outage(10, 15, 15.1), Outage(25, 30, 30.2)]
    stale = watched("stale", (1, 5), (16, 9), (31, 12), units=4)
    # Its only snapshot after the first outage came during the second one.
    late = watched("late", (1, 5), (27, 9), (31, 12))
    closed = watched("closed", (1, 5), (16, 9), (31, 12), open=False)
    waiting = watched("waiting", (1, 5), (16, 9), (31, 12))
    waiting.apply(stock(20, 1, 3), 32)
    report = check_viewers([stale, late, closed, waiting], outages, {1: 3}, until=50)
    assert report.problems == [
        "late: no snapshot after outage 1 (Redis back at 15.1)",
        "stale: product 1: 4 shown, 3 in stock",
        "closed: its socket was closed at the end",
        "waiting: still waiting for a snapshot after a gap",
    ]
    assert report.snapshots_after == [3, 4]
    assert report.equal == ["late", "closed", "waiting"]


def test_a_viewer_that_never_connected_is_caught():
    report = check_viewers([LiveView("never")], [], {1: 3}, until=5)
    assert report.problems == ["never: never connected", "never: product 1: None shown, 3 in stock"]
