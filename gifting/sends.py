"""Sending gifts: the one place where coins leave a wallet for a live.

A send is one transaction: the GiftSend row, one ledger posting (the wallet debited by a
conditional UPDATE that never takes it below zero, the host's and the platform's shares
appended as entries on accounts without a cached balance, so a hot host's row is never
locked), and the sender's running totals (gifting.models.GiftTotal: the live's top
gifters, the host's top fans, the combo) upserted. gift.sent goes to the live after commit.

What makes it hold a crowd is batching (config.combining): viewers of one process sending
at the same moment have their sends made by one of them in one transaction, a handful of
statements for the whole batch: the replays, gifts and lives read at once; the wallets
locked in primary-key order and debited by one UPDATE; the sends one multi-row INSERT, the
postings with their entries another; the totals with the live's top gifters one statement
(on PostgreSQL; SQLite takes a few more). A batch takes one send per viewer, so
each wallet is debited once per batch; a viewer whose coins do not cover their send is
refused and the rest of the batch goes through. The events of a batch are handed to the
process's outbox together once every sender has their answer, and go out in commit order
while the next batch runs.

Callers see none of this: send(request) returns the GiftSend or raises.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.models import User
from config.bulk import array, column_list, insert_rows, one_of, rows_source, select
from config.combining import Combiner
from payments.errors import InsufficientFunds
from payments.ledger import Line, Posting, accounts_get, ledger_post_many
from payments.ledger_models import LedgerAccount
from streams import events
from streams.models import Stream

from .accounts import (
    ISSUED_CODE,
    commission_code,
    commission_spec,
    earnings_code,
    earnings_spec,
    issued_spec,
    sales_code,
    sales_spec,
)
from .errors import (
    GiftNotFound,
    GiftsBusy,
    GiftToSelf,
    LiveNotFound,
    NotEnoughCoins,
    StreamNotLive,
)
from .models import Gift, GiftSend, GiftTotal
from .selectors import LEADERBOARD_SIZE, leader, top_gifters_for_stream, wallet_code

log = logging.getLogger(__name__)

# The same gift sent again by the same viewer in the same live this soon after their last
# send grows one animation on screen (the combo of gift.sent).
COMBO_WINDOW = timedelta(seconds=5)


@dataclass
class SendRequest:
    """One tap on Send, its input already checked (services.gift_send)."""

    sender: User
    stream_id: int
    gift_id: int
    quantity: int
    key: str


@dataclass
class _Accepted:
    index: int
    request: SendRequest
    gift: Gift
    stream: Stream
    send: GiftSend | None = None


def gift_split(*, coins: int) -> tuple[int, int, int]:
    """(value, creator, platform) in minor units for so many coins: the host's share is
    rounded down, the platform keeps the remainder, so the two always add up to the value."""
    value = coins * settings.GIFTING_COIN_VALUE_MINOR
    creator = value * settings.GIFTING_CREATOR_SHARE_BP // 10_000
    return value, creator, value - creator


# --- one batch --------------------------------------------------------------------------------


def _check(requests: list[SendRequest], outcomes: list) -> list[_Accepted]:
    """Answer the replays and refuse what cannot be sent, from the batch's replays, gifts
    and lives, read at once (_batch_reads)."""
    made, gifts, streams = _batch_reads(requests)
    replays = {}
    if made:
        by_pair = {(sender, key): pk for pk, sender, key in made}
        sends = GiftSend.objects.select_related("gift").in_bulk(list(by_pair.values()))
        replays = {pair: sends[pk] for pair, pk in by_pair.items()}
    accepted = []
    for index, request in enumerate(requests):
        replay = replays.get((request.sender.pk, request.key))
        gift = gifts.get(request.gift_id)
        stream = streams.get(request.stream_id)
        if replay is not None:
            outcomes[index] = replay
        elif gift is None:
            outcomes[index] = GiftNotFound()
        elif stream is None:
            outcomes[index] = LiveNotFound()
        elif stream.status != Stream.Status.LIVE:
            outcomes[index] = StreamNotLive()
        elif stream.host_id == request.sender.pk:
            outcomes[index] = GiftToSelf()
        else:
            accepted.append(_Accepted(index, request, gift, stream))
    return accepted


def _batch_reads(requests: list[SendRequest]) -> tuple[list, dict, dict]:
    """The sends already made with the batch's (sender, key) pairs as (id, sender, key),
    its active gifts and its lives by id. Plain SQL (for a batch, building the ORM's
    queries cost more than running them); on PostgreSQL one statement, a round trip each
    being what the batch's leader waits on. Replays are one probe of the unique key per
    pair: a join with the pairs, where "sender one of and key one of" would probe every
    sender with every key."""
    senders = [r.sender.pk for r in requests]
    keys = [r.key for r in requests]
    gift_ids = sorted({r.gift_id for r in requests})
    stream_ids = sorted({r.stream_id for r in requests})
    if connection.vendor == "postgresql":
        rows = select(
            f"SELECT 0, g.id, g.sender_id, g.idempotency_key, NULL, NULL "  # noqa: S608
            f"FROM unnest(%s::bigint[], %s::text[]) AS r (sender_id, idempotency_key) "
            f"JOIN {_table(GiftSend)} AS g ON g.sender_id = r.sender_id "
            "AND g.idempotency_key = r.idempotency_key "
            f"UNION ALL SELECT 1, id, coins, name, image, level FROM {_table(Gift)} "
            "WHERE id = ANY(%s::bigint[]) AND active "
            f"UNION ALL SELECT 2, id, host_id, status, NULL, NULL FROM {_table(Stream)} "
            "WHERE id = ANY(%s::bigint[])",
            [array(senders), array(keys), array(gift_ids), array(stream_ids)],
        )
    else:
        pairs = " OR ".join(["(sender_id = %s AND idempotency_key = %s)"] * len(requests))
        gifts_in, streams_in = one_of("id", gift_ids), one_of("id", stream_ids)
        rows = [
            (0, *row)
            for row in select(
                f"SELECT id, sender_id, idempotency_key, NULL, NULL "  # noqa: S608
                f"FROM {_table(GiftSend)} WHERE {pairs}",
                [value for pair in zip(senders, keys, strict=True) for value in pair],
            )
        ]
        rows += [
            (1, *row)
            for row in select(
                f"SELECT id, coins, name, image, level FROM {_table(Gift)} "  # noqa: S608
                f"WHERE {gifts_in[0]} AND active",
                gifts_in[1],
            )
        ]
        rows += [
            (2, *row)
            for row in select(
                f"SELECT id, host_id, status, NULL, NULL FROM {_table(Stream)} "  # noqa: S608
                f"WHERE {streams_in[0]}",
                streams_in[1],
            )
        ]
    made, gifts, streams = [], {}, {}
    for kind, pk, number, a, b, c in rows:
        if kind == 0:
            made.append((pk, number, a))
        elif kind == 1:
            gifts[pk] = Gift(id=pk, coins=number, name=a, image=b, level=c)
        else:
            streams[pk] = Stream(id=pk, host_id=number, status=a)
    return made, gifts, streams


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


ACCOUNT_COLUMNS = ["id", "code", "kind", "unit", "balance", "allow_negative", "track_balance"]


def _accounts(accepted: list[_Accepted], currency: str, outcomes: list) -> dict[str, object]:
    """The batch's accounts by code, read in one query (the host's earnings and the
    platform's made on first use). Refuses, by this lock-free read, a viewer without a
    wallet or whose wallet already shows too few coins; the debit's guard decides the
    rest."""
    hosts = {item.stream.host_id for item in accepted}
    specs = [issued_spec(), sales_spec(currency=currency), commission_spec(currency=currency)]
    codes = [spec["code"] for spec in specs]
    codes += [earnings_code(creator_id=host, currency=currency) for host in hosts]
    codes += [wallet_code(user_id=item.request.sender.pk) for item in accepted]
    where = one_of("code", codes)
    found = {
        row[1]: LedgerAccount(**dict(zip(ACCOUNT_COLUMNS, row, strict=True)))
        for row in select(
            f"SELECT {', '.join(ACCOUNT_COLUMNS)} FROM {_table(LedgerAccount)} "  # noqa: S608
            f"WHERE {where[0]}",
            where[1],
        )
    }
    specs += [earnings_spec(creator_id=host, currency=currency) for host in hosts]
    missing = [spec for spec in specs if spec["code"] not in found]
    if missing:
        found |= accounts_get(missing)
    for item in accepted:
        wallet = found.get(wallet_code(user_id=item.request.sender.pk))
        if wallet is None or wallet.balance < item.send.coins:
            outcomes[item.index] = NotEnoughCoins()
    return found


def _posting(item: _Accepted, accounts: dict, currency: str) -> Posting:
    send = item.send
    lines = [
        Line(accounts[wallet_code(user_id=send.sender_id)], -send.coins),
        Line(accounts[ISSUED_CODE], send.coins),
        Line(accounts[sales_code(currency=currency)], -send.value_minor),
        Line(
            accounts[earnings_code(creator_id=send.creator_id, currency=currency)],
            send.creator_minor,
        ),
        Line(accounts[commission_code(currency=currency)], send.platform_minor),
    ]
    return Posting(
        kind="gift.sent",
        key=f"gift:{send.pk}",
        memo=f"{send.quantity} × {item.gift.name} in live {send.stream_id}",
        # A share rounded to nothing (a one-coin gift) is no entry.
        lines=[line for line in lines if line.amount],
    )


TOTAL_FIELDS = [
    "creator",
    "stream",
    "sender",
    "coins",
    "gifts",
    "last_send",
    "last_sent_at",
    "combo_gift",
    "combo",
]


def _totals(sent: list[_Accepted], now: datetime) -> tuple[dict[int, int], dict[int, list]]:
    """Add the sends to the senders' totals, per live and per host: one upsert each, rows
    in sender order (so two batches never wait on each other in a cycle). Returns each
    sender's combo in its live (how many sends of this gift in a row, each within
    COMBO_WINDOW of the last) and each live's top gifters with these sends counted.

    On PostgreSQL the upserts and the top gifters are one statement, a round trip each
    being what the batch's leader waits on: the top gifters are ranked from the rows the
    upsert returns and the live's other rows, as they were before it (a statement does
    not see its own changes)."""
    table = connection.ops.quote_name(GiftTotal._meta.db_table)
    rows = sorted((item.send for item in sent), key=lambda s: (s.creator_id, s.sender_id))
    added = (
        f"coins = {table}.coins + excluded.coins, gifts = {table}.gifts + 1, "
        "last_send = excluded.last_send, last_sent_at = excluded.last_sent_at"
    )
    live_rows = [
        (s.creator_id, s.stream_id, s.sender_id, s.coins, 1, s.pk, now, s.gift_id, 1) for s in rows
    ]
    live_conflict = (
        "ON CONFLICT (stream_id, sender_id) WHERE stream_id IS NOT NULL DO UPDATE SET "
        f"{added}, combo = CASE WHEN {table}.combo_gift = excluded.combo_gift "
        f"AND {table}.last_sent_at >= %s THEN {table}.combo + 1 ELSE 1 END, "
        "combo_gift = excluded.combo_gift"
    )
    combo_since = GiftTotal._meta.get_field("last_sent_at").get_db_prep_save(
        now - COMBO_WINDOW, connection
    )
    host_rows = [(s.creator_id, None, s.sender_id, s.coins, 1, s.pk, now, 0, 0) for s in rows]
    host_conflict = (
        f"ON CONFLICT (creator_id, sender_id) WHERE stream_id IS NULL DO UPDATE SET {added}"
    )
    stream_ids = sorted({s.stream_id for s in rows})
    if connection.vendor != "postgresql":
        combos = insert_rows(
            GiftTotal,
            TOTAL_FIELDS,
            live_rows,
            conflict=live_conflict,
            conflict_params=[combo_since],
            returning=["sender_id", "combo"],
        )
        insert_rows(GiftTotal, TOTAL_FIELDS, host_rows, conflict=host_conflict)
        boards = {pk: top_gifters_for_stream(stream_id=pk) for pk in stream_ids}
        return dict(combos), boards
    names = column_list(GiftTotal, TOTAL_FIELDS)
    live_source, live_params = rows_source(GiftTotal, TOTAL_FIELDS, live_rows)
    host_source, host_params = rows_source(GiftTotal, TOTAL_FIELDS, host_rows)
    users = connection.ops.quote_name(User._meta.db_table)
    # Only names and placeholders are formatted in; every value is bound.
    sql = (
        f"WITH live AS (INSERT INTO {table} ({names}) {live_source} {live_conflict} "  # noqa: S608
        f"RETURNING {table}.stream_id, {table}.sender_id, {table}.coins, "
        f"{table}.last_send, {table}.combo), "
        f"host AS (INSERT INTO {table} ({names}) {host_source} {host_conflict} RETURNING 1), "
        "board AS (SELECT stream_id, sender_id, coins, last_send FROM live "
        f"UNION ALL SELECT t.stream_id, t.sender_id, t.coins, t.last_send FROM {table} AS t "
        "WHERE t.stream_id = ANY(%s::bigint[]) AND NOT EXISTS (SELECT 1 FROM live "
        "WHERE live.stream_id = t.stream_id AND live.sender_id = t.sender_id)), "
        "ranked AS (SELECT board.*, row_number() OVER (PARTITION BY stream_id "
        "ORDER BY coins DESC, last_send) AS place FROM board) "
        "SELECT 0, stream_id, sender_id, combo, NULL, NULL FROM live UNION ALL "
        "SELECT 1, r.stream_id, r.place, r.coins, u.handle, u.display_name FROM ranked AS r "
        f"JOIN {users} AS u ON u.id = r.sender_id WHERE r.place <= %s"
    )
    params = [
        *live_params,
        combo_since,
        *host_params,
        array(stream_ids),
        LEADERBOARD_SIZE,
    ]
    combos: dict[int, int] = {}
    ranked: dict[int, list] = {pk: [] for pk in stream_ids}
    for kind, stream_id, number, value, handle, display_name in select(sql, params):
        if kind == 0:
            combos[number] = value
        else:
            ranked[stream_id].append((number, leader(handle, display_name, value)))
    boards = {pk: [row for _, row in sorted(places)] for pk, places in ranked.items()}
    return combos, boards


SEND_FIELDS = [
    "sender",
    "stream",
    "creator",
    "gift",
    "quantity",
    "coins",
    "value_minor",
    "creator_minor",
    "platform_minor",
    "currency",
    "idempotency_key",
    "created_at",
]


def _insert_sends(sends: list[GiftSend]) -> None:
    """One multi-row INSERT (config.bulk); each send gets its id."""
    ids = {
        (sender, key): pk
        for pk, sender, key in insert_rows(
            GiftSend,
            SEND_FIELDS,
            [
                (
                    s.sender_id,
                    s.stream_id,
                    s.creator_id,
                    s.gift_id,
                    s.quantity,
                    s.coins,
                    s.value_minor,
                    s.creator_minor,
                    s.platform_minor,
                    s.currency,
                    s.idempotency_key,
                    s.created_at,
                )
                for s in sends
            ],
            returning=["id", "sender_id", "idempotency_key"],
        )
    }
    for send in sends:
        send.pk = ids[(send.sender_id, send.idempotency_key)]
        send._state.adding = False


def _send_batch(requests: list[SendRequest]) -> tuple[list, list[tuple[int, dict]]]:
    """Make the batch's sends in one transaction. Returns, per request, its GiftSend or the
    refusal, and the gift.sent events to publish once committed, as (live, data)."""
    outcomes: list = [None] * len(requests)
    accepted = _check(requests, outcomes)
    if not accepted:
        return outcomes, []
    currency = settings.TAPBUY_CURRENCY
    now = timezone.now()
    for item in accepted:
        request = item.request
        coins = item.gift.coins * request.quantity
        value, creator_minor, platform_minor = gift_split(coins=coins)
        item.send = GiftSend(
            sender=request.sender,
            stream=item.stream,
            creator_id=item.stream.host_id,
            gift=item.gift,
            quantity=request.quantity,
            coins=coins,
            value_minor=value,
            creator_minor=creator_minor,
            platform_minor=platform_minor,
            currency=currency,
            idempotency_key=request.key,
            created_at=now,
        )
    accounts = _accounts(accepted, currency, outcomes)
    accepted = [item for item in accepted if outcomes[item.index] is None]
    published: list[tuple[int, dict]] = []
    try:
        with transaction.atomic():
            if accepted:
                published = _write(accepted, accounts, currency, now, outcomes)
    except IntegrityError:
        # A send with one of these keys was made meanwhile by another process (a retry that
        # raced its first attempt): one at a time, each finds its own replay.
        if len(requests) == 1:
            replay = (
                GiftSend.objects.select_related("gift")
                .filter(sender_id=requests[0].sender.pk, idempotency_key=requests[0].key)
                .first()
            )
            if replay is None:
                raise
            return [replay], []
        outcomes, published = [], []
        for request in requests:
            one, events_of_one = _send_batch([request])
            outcomes += one
            published += events_of_one
    return outcomes, published


def _write(
    accepted: list[_Accepted], accounts: dict, currency: str, now: datetime, outcomes: list
) -> list[tuple[int, dict]]:
    """In the batch's transaction: the sends, their postings (a wallet whose guard refuses
    the debit refuses its send, which is deleted again before commit), the totals and the
    events to publish."""
    _insert_sends([item.send for item in accepted])
    results = ledger_post_many([_posting(item, accounts, currency) for item in accepted])
    refused = [
        item
        for item, result in zip(accepted, results, strict=True)
        if isinstance(result, InsufficientFunds)
    ]
    if refused:
        GiftSend.objects.filter(pk__in=[item.send.pk for item in refused]).delete()
        for item in refused:
            outcomes[item.index] = NotEnoughCoins()
    sent = [item for item in accepted if outcomes[item.index] is None]
    if not sent:
        return []
    combos, boards = _totals(sent, now)
    published = []
    for item in sent:
        outcomes[item.index] = item.send
        send = item.send
        published.append(
            (send.stream_id, _event(item, combos[send.sender_id], boards[send.stream_id]))
        )
    return published


def _event(item: _Accepted, combo: int, leaderboard: list[dict]) -> dict:
    send, sender, gift = item.send, item.request.sender, item.gift
    return {
        "id": send.pk,
        "sender": {"handle": sender.handle, "name": sender.name},
        "gift": {
            "id": gift.pk,
            "name": gift.name,
            "image": gift.image.url if gift.image else None,
            "level": gift.level,
        },
        "quantity": send.quantity,
        "coins": send.coins,
        "combo": combo,
        "leaderboard": leaderboard,
    }


def _publish(published: list[tuple[int, dict]], *, wait: bool = True) -> None:
    by_live: dict[int, list[dict]] = {}
    for stream_id, data in published:
        by_live.setdefault(stream_id, []).append(data)
    for stream_id, items in by_live.items():
        events.send_many(stream_id, "gift.sent", items, wait=wait)


def _announce(published: list[tuple[int, dict]]) -> None:
    if not published:
        return
    if connection.in_atomic_block:
        # Sent alone inside the caller's transaction: announced if it commits.
        transaction.on_commit(lambda: _publish(published))
    else:
        _publish(published)


def _announce_batch(published: list[tuple[int, dict]]) -> None:
    """A committed batch's events, handed to the process's outbox (streams.events), which
    sends them in the order the batches committed: the leader does not wait for Redis
    before passing the lead."""
    if published:
        _publish(published, wait=False)


# --- batching across the threads of a process --------------------------------------------


def batch_window() -> float:
    return settings.GIFTING_SEND_BATCH_WINDOW


_combiner: Combiner[SendRequest] = Combiner(
    _send_batch,
    window=batch_window,
    busy=GiftsBusy,
    batch_max=200,
    wait_seconds=30,
    # One send per viewer per batch: each wallet is debited once in a batch.
    key=lambda request: request.sender.pk,
    after=_announce_batch,
)


def send(request: SendRequest) -> GiftSend:
    """Make the send, or answer the one made before with its key. Raises GiftNotFound,
    LiveNotFound, StreamNotLive, GiftToSelf or NotEnoughCoins, having changed nothing.

    A caller inside a transaction (a test, the demo seeder) is sent alone, in that
    transaction, and its event waits for the commit; otherwise the send may be made on
    another thread's connection."""
    if connection.in_atomic_block or not settings.GIFTING_SEND_BATCHING:
        outcomes, published = _send_batch([request])
        _announce(published)
        if isinstance(outcomes[0], Exception):
            raise outcomes[0]
        return outcomes[0]
    return _combiner.submit(request)
