"""The live's top gifters: five senders by coins sent in this live, shown on the live page
to everyone and kept current by the leaderboard that gift.sent carries."""

import pytest

from gifting import selectors
from gifting.models import Gift
from tests.factories import UserFactory
from tests.gifting.conftest import give_coins, go_live
from tests.gifting.test_gifts import send


@pytest.fixture
def live(host):
    return go_live(host)


@pytest.fixture
def rose(db):
    """One coin a rose: a send of N roses is N coins."""
    return Gift.objects.create(name="Rose", slug="rose", coins=1)


@pytest.fixture
def fans(db):
    """Six viewers with coins to give, by handle."""
    made = {}
    for handle in ["ana", "ben", "cy", "dee", "eli", "fay"]:
        made[handle] = UserFactory(handle=handle, display_name=handle.title())
        give_coins(made[handle], 100)
    return made


class Sender:
    """Sends roses with a fresh idempotency key each time."""

    def __init__(self, live, rose):
        self.live, self.rose, self.count = live, rose, 0

    def __call__(self, user, coins):
        self.count += 1
        return send(user, self.live, self.rose, quantity=coins, key=f"lb-{self.count}")


@pytest.fixture
def gift(live, rose):
    return Sender(live, rose)


def handles(leaders):
    return [(leader["handle"], leader["coins"]) for leader in leaders]


# --- the selector ------------------------------------------------------------------------------


def test_top_gifters_are_the_five_senders_with_most_coins_in_this_live(
    host, live, rose, fans, gift, django_assert_num_queries
):
    for handle, coins in [("ana", 3), ("ben", 40), ("cy", 7), ("dee", 12), ("eli", 1)]:
        gift(fans[handle], coins)
    gift(fans["fay"], 20)
    gift(fans["ana"], 30)  # ana's sends add up: 33
    # Gifts in another live do not count here.
    other = go_live(UserFactory(handle="otto"), title="Another live")
    send(fans["eli"], other, rose, quantity=90, key="other-1")

    with django_assert_num_queries(1):
        leaders = selectors.top_gifters_for_stream(stream_id=live.pk)

    assert handles(leaders) == [("ben", 40), ("ana", 33), ("fay", 20), ("dee", 12), ("cy", 7)]
    assert leaders[0] == {"handle": "ben", "name": "Ben", "coins": 40}


def test_a_tie_goes_to_the_sender_who_reached_the_total_first(live, fans, gift):
    gift(fans["ana"], 5)
    gift(fans["ben"], 10)  # ben reaches 10 first
    gift(fans["ana"], 5)  # ana only matches it
    gift(fans["cy"], 4)
    gift(fans["dee"], 4)

    leaders = selectors.top_gifters_for_stream(stream_id=live.pk)

    assert handles(leaders) == [("ben", 10), ("ana", 10), ("cy", 4), ("dee", 4)]
    # The same answer every time: nothing is left to the database's order.
    assert all(selectors.top_gifters_for_stream(stream_id=live.pk) == leaders for _ in range(3))


def test_a_sender_without_a_display_name_shows_their_handle(live, gift):
    plain = UserFactory(handle="plainfan", display_name="")
    give_coins(plain, 10)
    gift(plain, 2)

    assert selectors.top_gifters_for_stream(stream_id=live.pk) == [
        {"handle": "plainfan", "name": "plainfan", "coins": 2}
    ]


def test_a_live_without_gifts_has_no_top_gifters(live):
    assert selectors.top_gifters_for_stream(stream_id=live.pk) == []


# --- the block on the live page ----------------------------------------------------------------


def test_anyone_signed_out_sees_the_top_gifters_in_constant_queries(
    client, live, fans, gift, django_assert_max_num_queries
):
    fans["ana"].display_name = "<b>Ana</b>"
    fans["ana"].save(update_fields=["display_name"])
    for handle, coins in [("ana", 9), ("ben", 4), ("cy", 3), ("dee", 2), ("eli", 1), ("fay", 1)]:
        gift(fans[handle], coins)

    with django_assert_max_num_queries(2):  # the live, the leaderboard
        response = client.get(f"/live/{live.pk}/gifts/top")

    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('class="gift-leader"') == 5
    assert "&lt;b&gt;Ana&lt;/b&gt;" in html and "<b>Ana</b>" not in html
    assert html.index("@ana") < html.index("@ben") < html.index("@cy")
    assert "9 coins" in html
    assert "@fay" not in html  # sixth: ties with eli at 1 coin but reached it later


def test_the_block_says_when_no_one_has_sent_a_gift(client, live):
    response = client.get(f"/live/{live.pk}/gifts/top")
    assert response.status_code == 200
    assert 'class="gift-leader"' not in response.content.decode()
    assert "No gifts yet." in response.content.decode()


def test_an_unknown_live_has_no_top_gifters(client, db):
    assert client.get("/live/999999/gifts/top").status_code == 404


def test_the_live_page_loads_the_block_for_signed_out_viewers(client, live):
    html = client.get(live.get_absolute_url()).content.decode()
    assert 'id="gift-leaderboard"' in html
    assert f'hx-get="/live/{live.pk}/gifts/top"' in html


# --- gift.sent ---------------------------------------------------------------------------------


@pytest.fixture
def watching(live, watch_live):
    """A viewer of the live: the events its socket receives, one at a time."""
    return watch_live(live.pk).received


def test_gift_sent_carries_the_leaderboard_with_this_gift_counted(
    live, fans, gift, watching, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        gift(fans["ana"], 5)
    assert watching()["data"]["leaderboard"] == [{"handle": "ana", "name": "Ana", "coins": 5}]

    with django_capture_on_commit_callbacks(execute=True):
        gift(fans["ben"], 7)
    event = watching()
    assert event["type"] == "gift.sent"
    assert event["data"]["leaderboard"] == [
        {"handle": "ben", "name": "Ben", "coins": 7},
        {"handle": "ana", "name": "Ana", "coins": 5},
    ]
    assert event["data"]["leaderboard"] == selectors.top_gifters_for_stream(stream_id=live.pk)


def test_gift_sent_lists_at_most_five_gifters(
    live, fans, gift, watching, django_capture_on_commit_callbacks
):
    for coins, handle in enumerate(["ana", "ben", "cy", "dee", "eli", "fay"], start=1):
        with django_capture_on_commit_callbacks(execute=True):
            gift(fans[handle], coins)
        leaderboard = watching()["data"]["leaderboard"]
    assert [leader["handle"] for leader in leaderboard] == ["fay", "eli", "dee", "cy", "ben"]


# --- the snapshot ------------------------------------------------------------------------------


def test_a_new_viewers_snapshot_carries_the_top_gifters(live):
    from streams import snapshots

    assert "leaderboard" in snapshots.EXTRA_PARTS
    assert snapshots.full(live)["leaderboard"] == []


@pytest.mark.postgres
@pytest.mark.django_db
def test_gift_totals_are_updated_in_place():
    """Every batch of sends rewrites the senders' totals: no index may cover the columns it
    changes (so that the update is HOT, adding no index entries and leaving no dead
    version for the next upsert's unique check to walk), and the table keeps room on its
    pages for the new versions."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT reloptions FROM pg_class WHERE relname = 'gifting_gifttotal'")
        assert "fillfactor=50" in cursor.fetchone()[0]
        cursor.execute(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a "
            "ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
            "WHERE i.indrelid = 'gifting_gifttotal'::regclass"
        )
        indexed = {row[0] for row in cursor.fetchall()}
    assert indexed == {"id", "stream_id", "sender_id", "creator_id"}
