"""A host's own earnings pages through HTTP: the figures (today, this week, per live,
pending, settled, paid out), recent gifts with their split, statements, the Request payout
form, every gift received (paginated and as CSV), top fans on the profile, the host's share
in the gift panel; and that a user only ever sees their own."""

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.messages import get_messages
from django.utils import timezone

from gifting import payouts, reports, services
from gifting.models import Gift, GiftSend, GiftTotal, Payout
from gifting.settlement import earnings_settle
from payments.ledger import Line, account_get, ledger_post
from payments.ledger_models import LedgerAccount
from streams import services as streams_services
from tests.factories import UserFactory
from tests.gifting.conftest import give_coins, go_live, token

pytestmark = pytest.mark.django_db


# --- helpers and fixtures -------------------------------------------------------------------


def csv_rows(response) -> list[list[str]]:
    """The rows of a streamed CSV export."""
    text = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(text)))


def send(viewer, stream, gift, quantity, key):
    return services.gift_send(
        sender=viewer, stream_id=stream.pk, gift_id=gift.pk, quantity=quantity, idempotency_key=key
    )


def shown(html: str, name: str) -> str:
    return re.search(rf'data-testid="{name}">([^<]*)<', html).group(1)


def flash(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def gifts(db):
    return {
        "rose": Gift.objects.create(name="Rose", slug="rose", coins=1, position=0),
        "heart": Gift.objects.create(name="Heart", slug="heart", coins=5, position=1),
        "lion": Gift.objects.create(name="Lion", slug="lion", coins=500, position=2),
    }


@pytest.fixture
def fan(db):
    return UserFactory(handle="fanny", display_name="Fanny Fan")


@pytest.fixture
def lives(host, viewer, fan, gifts):
    """Two lives of the host with gifts (50 % share, one cent a coin), one sent long ago:

    - "Monday drop": viewer 2 × Lion (1,000 coins, host 500), 3 × Heart (15 coins, host 7);
      10 days ago, viewer 2 × Heart (10 coins, host 5).
    - "Friday linen": fan 1 × Lion (500 coins, host 250).
    """
    give_coins(viewer, 2000)
    give_coins(fan, 1000)
    monday = go_live(host, "Monday drop")
    send(viewer, monday, gifts["heart"], 2, "old")
    GiftSend.objects.filter(idempotency_key="old").update(
        created_at=timezone.now() - timedelta(days=10)
    )
    send(viewer, monday, gifts["lion"], 2, "m1")
    send(viewer, monday, gifts["heart"], 3, "m2")
    streams_services.stream_end(stream=monday, actor=host)
    friday = go_live(host, "Friday linen")
    send(fan, friday, gifts["lion"], 1, "f1")
    return monday, friday


def affiliate_credit(user, amount):
    """Affiliate commission credited the way an order does: an append-only account."""
    account = account_get(
        code=f"earnings:affiliate:user:{user.pk}:USD",
        kind=LedgerAccount.Kind.EARNINGS,
        unit="USD",
        owner=user,
        track_balance=False,
    )
    outside = account_get(
        code="external:test:USD",
        kind=LedgerAccount.Kind.EXTERNAL,
        unit="USD",
        allow_negative=True,
        track_balance=False,
    )
    ledger_post(
        kind="test.affiliate",
        key=f"affiliate:{user.pk}:{amount}",
        lines=[Line(outside, -amount), Line(account, amount)],
    )


def settle():
    earnings_settle(until=timezone.now() + timedelta(seconds=1))


# --- the earnings page ------------------------------------------------------------------------


def test_signed_out_visitors_are_sent_to_log_in(client):
    for url in ("/earnings/", "/earnings/supporters/", "/earnings/supporters.csv"):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert client.post("/earnings/payouts", {}).status_code == 302
    assert not Payout.objects.exists()


def test_the_earnings_page_shows_the_hosts_figures_lives_and_gifts_with_their_split(
    client, host, lives, django_assert_max_num_queries
):
    affiliate_credit(host, 321)
    client.force_login(host)
    with django_assert_max_num_queries(10):
        response = client.get("/earnings/")
    assert response.status_code == 200
    html = response.content.decode()
    # Today and this week: the three gifts sent now (the old one is 10 days back).
    assert shown(html, "earned-today") == "$7.57"
    assert shown(html, "earned-week") == "$7.57"
    # Nothing settled yet: every gift is pending, the old one too.
    assert shown(html, "earned-pending") == "$7.62"
    assert "pending from 4 gifts" in html
    assert shown(html, "earned-affiliate") == "$3.21"
    assert shown(html, "earned-available") == "$0.00"
    assert shown(html, "earned-paid") == "$0.00"
    assert "You receive 50 % of the value of each gift" in html

    lives_table = html.split('data-testid="earnings-lives"')[1].split("</table>")[0]
    rows = re.findall(r'<tr data-testid="earnings-live">(.*?)</tr>', lives_table, re.S)
    assert len(rows) == 2
    # The live with the latest gift first: title, gifts, coins, share.
    assert "Friday linen" in rows[0] and ">1<" in rows[0] and ">500<" in rows[0]
    assert "$2.50" in rows[0]
    assert "Monday drop" in rows[1] and ">3<" in rows[1] and ">1,025<" in rows[1]
    assert "$5.12" in rows[1]

    recent = re.findall(r'<tr data-testid="recent-gift">(.*?)</tr>', html, re.S)
    assert len(recent) == 4
    # Newest first: the fan's Lion, then the viewer's 3 Hearts with their split.
    assert "@fanny" in recent[0] and "Lion" in recent[0]
    assert "@viewer" in recent[1] and "3 × Heart" in recent[1]
    assert "15 coins ($0.15)" in recent[1]
    assert re.search(r"<td>\$0\.07</td>\s*<td>\$0\.08</td>", recent[1])  # host, platform


def test_the_earnings_page_runs_the_same_queries_however_many_gifts(
    client, host, lives, viewer, gifts, django_assert_max_num_queries
):
    client.force_login(host)
    with django_assert_max_num_queries(10) as few:
        client.get("/earnings/")
    monday, friday = lives
    for n in range(15):
        send(viewer, friday, gifts["rose"], 1, f"more-{n}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get("/earnings/")
    assert len(re.findall(r'data-testid="recent-gift"', response.content.decode())) == 19


def test_settled_statements_and_paid_payouts_show_on_the_page(
    client, host, viewer, lives, gifts, staff, monkeypatch
):
    give_coins(viewer, 4000)
    send(viewer, lives[1], gifts["lion"], 8, "big")  # 4,000 coins: host 20.00
    settle()
    monkeypatch.setattr("gifting.tasks.payout_execute.delay", lambda payout_id: None)
    paid = payouts.payout_request(
        creator=host, amount_minor=1500, destination="acct_ok", idempotency_key="k1"
    )
    payouts.payout_approve(payout_id=paid.pk, actor=staff)
    payouts.payout_execute(payout_id=paid.pk)
    assert Payout.objects.get(pk=paid.pk).status == Payout.Status.PAID
    payouts.payout_request(
        creator=host, amount_minor=1000, destination="acct_ok", idempotency_key="k2"
    )

    client.force_login(host)
    html = client.get("/earnings/").content.decode()
    # 27.62 settled, 15.00 paid out, 10.00 held by the request under way.
    assert shown(html, "earned-pending") == "$0.00"
    assert shown(html, "earned-available") == "$2.62"
    assert shown(html, "earned-held") == "$10.00"
    assert shown(html, "earned-paid") == "$15.00"
    statements = re.findall(r'<tr data-testid="statement">(.*?)</tr>', html, re.S)
    assert len(statements) == 1
    assert ">5<" in statements[0] and "$27.62" in statements[0]
    rows = re.findall(r'<tr data-testid="payout-row">(.*?)</tr>', html, re.S)
    assert len(rows) == 2
    assert "$10.00" in rows[0] and "Requested" in rows[0]
    assert "$15.00" in rows[1] and "Paid" in rows[1]
    # The account used last time is filled in for the next request.
    assert 'name="destination" maxlength="40" value="acct_ok"' in html


def test_another_user_sees_only_their_own_earnings(client, host, lives, fan):
    affiliate_credit(host, 500)
    client.force_login(fan)
    html = client.get("/earnings/").content.decode()
    for name in ("earned-today", "earned-week", "earned-pending", "earned-affiliate"):
        assert shown(html, name) == "$0.00"
    assert 'data-testid="recent-gift"' not in html and 'data-testid="earnings-live"' not in html
    assert "Monday drop" not in html
    page = client.get("/earnings/supporters/").content.decode()
    assert 'data-testid="supporter-gift"' not in page and 'data-testid="top-fans"' not in page
    rows = csv_rows(client.get("/earnings/supporters.csv"))
    assert len(rows) == 1  # the header only


def test_today_and_this_week_follow_the_calendar(host, viewer, gifts):
    give_coins(viewer, 100)
    stream = go_live(host, "Calendar")
    wednesday = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
    for key, when in {
        "wed": wednesday - timedelta(hours=1),  # today
        "mon": wednesday - timedelta(days=2),  # this week, not today
        "sun": wednesday - timedelta(days=3, hours=14),  # Sunday 01:00: last week
    }.items():
        send(viewer, stream, gifts["heart"], 2, key)  # 10 coins: host 5
        GiftSend.objects.filter(idempotency_key=key).update(created_at=when)
    figures = reports.earnings_overview(creator=host, now=wednesday)
    assert (figures["today_minor"], figures["week_minor"], figures["pending_minor"]) == (5, 10, 15)


def test_today_starts_at_midnight_in_the_sites_time_zone(host, viewer, gifts, settings):
    settings.TIME_ZONE = "Europe/Paris"
    give_coins(viewer, 100)
    stream = go_live(host, "Late night")
    now = datetime(2026, 11, 24, 23, 30, tzinfo=UTC)  # Wednesday 00:30 in Paris
    for key, when in {
        "after-midnight": datetime(2026, 11, 24, 23, 10, tzinfo=UTC),  # 00:10 in Paris
        "before-midnight": datetime(2026, 11, 24, 22, 50, tzinfo=UTC),  # Tuesday 23:50
    }.items():
        send(viewer, stream, gifts["heart"], 2, key)  # 10 coins: host 5
        GiftSend.objects.filter(idempotency_key=key).update(created_at=when)
    figures = reports.earnings_overview(creator=host, now=now)
    assert (figures["today_minor"], figures["week_minor"]) == (5, 10)


# --- requesting a payout ----------------------------------------------------------------------


@pytest.fixture
def earner(host, viewer, gifts):
    """The host with 100.00 settled."""
    give_coins(viewer, 20000)
    stream = go_live(host, "Payday")
    send(viewer, stream, gifts["lion"], 40, "pay")
    settle()
    return host


def test_requesting_a_payout_holds_it_once_and_lists_it(client, earner):
    client.force_login(earner)
    page = client.get("/earnings/").content.decode()
    form = {"amount": "25.00", "destination": "acct_ok", "token": token(page)}
    response = client.post("/earnings/payouts", form)
    assert response.status_code == 302 and response["Location"] == "/earnings/"
    assert flash(response) == ["Payout of $25.00 requested: staff review it shortly."]
    # The same page submitted again (a double click) requests nothing more.
    client.post("/earnings/payouts", form)
    payout = Payout.objects.get()
    assert (payout.creator, payout.amount_minor, payout.destination, payout.status) == (
        earner,
        2500,
        "acct_ok",
        Payout.Status.REQUESTED,
    )
    html = client.get("/earnings/").content.decode()
    assert shown(html, "earned-available") == "$75.00"
    assert shown(html, "earned-held") == "$25.00"
    assert html.count('data-testid="payout-row"') == 1


def test_a_payout_below_the_minimum_is_refused_on_the_page(client, earner):
    client.force_login(earner)
    page = client.get("/earnings/").content.decode()
    response = client.post(
        "/earnings/payouts", {"amount": "5", "destination": "acct_ok", "token": token(page)}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert shown(html, "payout-error") == "The smallest payout is $10.00."
    assert 'data-testid="payout-amount-error"' in html
    assert not Payout.objects.exists()
    assert shown(html, "earned-available") == "$100.00"


def test_a_payout_above_the_balance_is_refused_on_the_page(client, earner):
    client.force_login(earner)
    page = client.get("/earnings/").content.decode()
    response = client.post(
        "/earnings/payouts", {"amount": "100.01", "destination": "acct_ok", "token": token(page)}
    )
    assert response.status_code == 409
    html = response.content.decode()
    assert shown(html, "payout-error") == "Not enough settled earnings for this payout."
    assert shown(html, "payout-amount-error") == "That is more than your available balance."
    assert 'value="100.01"' in html  # what was typed stays in the form
    assert not Payout.objects.exists()


def test_a_malformed_payout_form_is_refused(client, earner):
    client.force_login(earner)
    page = client.get("/earnings/").content.decode()
    response = client.post(
        "/earnings/payouts", {"amount": "ten", "destination": "", "token": token(page)}
    )
    assert response.status_code == 400
    assert shown(response.content.decode(), "payout-error") == "Check the payout details."
    assert client.post("/earnings/payouts", {"amount": "20"}).status_code == 400
    assert not Payout.objects.exists()


def test_a_host_without_settled_earnings_cannot_be_paid(client, host, lives):
    client.force_login(host)
    page = client.get("/earnings/").content.decode()
    response = client.post(
        "/earnings/payouts", {"amount": "10", "destination": "acct_ok", "token": token(page)}
    )
    assert response.status_code == 409
    assert not Payout.objects.exists()


# --- supporters: every gift received, CSV, top fans -----------------------------------------


def test_the_supporters_page_lists_every_gift_and_the_top_fans(
    client, host, lives, django_assert_max_num_queries
):
    client.force_login(host)
    with django_assert_max_num_queries(6):
        response = client.get("/earnings/supporters/")
    html = response.content.decode()
    rows = re.findall(r'<tr data-testid="supporter-gift">(.*?)</tr>', html, re.S)
    assert len(rows) == 4
    assert "Fanny Fan" in rows[0] and "1 × Lion" in rows[0] and "Friday linen" in rows[0]
    assert ">500<" in rows[0] and "$2.50" in rows[0]
    assert "Vera Viewer" in rows[3] and "2 × Heart" in rows[3] and "Monday drop" in rows[3]
    fans = re.findall(r'<li class="row-actions" data-testid="top-fan">(.*?)</li>', html, re.S)
    assert len(fans) == 2
    assert "1." in fans[0] and "Vera Viewer" in fans[0] and "1,025 coins" in fans[0]
    assert "2." in fans[1] and "Fanny Fan" in fans[1] and "500 coins" in fans[1]
    assert 'data-testid="pager"' not in html


def bulk_gifts(host, sender, stream, gift, count):
    """count sends written directly, a minute apart, the newest with the highest n."""
    start = timezone.now() - timedelta(days=1)
    GiftSend.objects.bulk_create(
        GiftSend(
            sender=sender,
            stream=stream,
            creator=host,
            gift=gift,
            quantity=n + 1,
            coins=gift.coins * (n + 1),
            value_minor=gift.coins * (n + 1),
            creator_minor=gift.coins * (n + 1) // 2,
            platform_minor=gift.coins * (n + 1) - gift.coins * (n + 1) // 2,
            currency="USD",
            idempotency_key=f"bulk-{n}",
        )
        for n in range(count)
    )
    for n in range(count):
        GiftSend.objects.filter(idempotency_key=f"bulk-{n}").update(
            created_at=start + timedelta(minutes=n)
        )
    GiftTotal.objects.create(
        creator=host,
        sender=sender,
        coins=sum(gift.coins * (n + 1) for n in range(count)),
        gifts=count,
        last_send=count,
        last_sent_at=timezone.now(),
    )


def test_the_supporters_page_shows_fifty_gifts_a_page_newest_first(
    client, host, viewer, gifts, django_assert_max_num_queries
):
    stream = go_live(host, "Marathon")
    bulk_gifts(host, viewer, stream, gifts["rose"], 120)
    client.force_login(host)
    with django_assert_max_num_queries(6) as first:
        html = client.get("/earnings/supporters/").content.decode()
    rows = re.findall(r'<tr data-testid="supporter-gift">(.*?)</tr>', html, re.S)
    assert len(rows) == 50
    assert "120 × Rose" in rows[0] and "71 × Rose" in rows[49]
    assert "Page 1 of 3" in html and 'href="?page=2"' in html
    with django_assert_max_num_queries(len(first.captured_queries)):
        last = client.get("/earnings/supporters/?page=3").content.decode()
    rows = re.findall(r'<tr data-testid="supporter-gift">(.*?)</tr>', last, re.S)
    assert len(rows) == 20
    assert "20 × Rose" in rows[0] and "1 × Rose" in rows[19]
    # A page past the end shows the last one rather than failing.
    assert "Page 3 of 3" in client.get("/earnings/supporters/?page=99").content.decode()


def test_the_csv_export_has_every_gift_with_its_split(client, host, lives):
    client.force_login(host)
    response = client.get("/earnings/supporters.csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith("attachment; filename=")
    assert response["Content-Disposition"].endswith('.csv"')
    assert "no-store" in response["Cache-Control"]  # the host's earnings stay private
    rows = csv_rows(response)
    assert rows[0] == [
        "sent_at",
        "sender_handle",
        "gift",
        "quantity",
        "coins",
        "value_minor",
        "creator_minor",
        "platform_minor",
        "currency",
        "live_id",
        "live_title",
    ]
    assert len(rows) == 5
    friday = lives[1]
    newest = rows[1]
    assert newest[1:] == ["fanny", "Lion", "1", "500", "500", "250", "250", "USD"] + [
        str(friday.pk),
        "Friday linen",
    ]
    sent_at = datetime.fromisoformat(newest[0])
    assert newest[0].endswith("Z") and sent_at.utcoffset() == timedelta(0)
    assert rows[2][2:8] == ["Heart", "3", "15", "15", "7", "8"]
    assert rows[4][2:4] == ["Heart", "2"]  # the oldest last


def test_the_csv_export_neutralises_spreadsheet_formulas(client, host, viewer):
    give_coins(viewer, 100)
    evil = Gift.objects.create(name="+SUM(A1)", slug="evil", coins=2)
    stream = go_live(host, '=HYPERLINK("https://evil.example","x")')
    send(viewer, stream, evil, 1, "e1")
    streams_services.stream_end(stream=stream, actor=host)
    stream = go_live(host, "-1+1")
    send(viewer, stream, evil, 1, "e2")
    streams_services.stream_end(stream=stream, actor=host)
    stream = go_live(host, "@cmd")
    send(viewer, stream, evil, 1, "e3")
    streams_services.stream_end(stream=stream, actor=host)
    stream = go_live(host, "Plain, with a comma")
    send(viewer, stream, evil, 1, "e4")
    client.force_login(host)
    rows = csv_rows(client.get("/earnings/supporters.csv"))
    assert [row[10] for row in rows[1:]] == [
        "Plain, with a comma",
        "'@cmd",
        "'-1+1",
        '\'=HYPERLINK("https://evil.example","x")',
    ]
    assert {row[2] for row in rows[1:]} == {"'+SUM(A1)"}
    assert {row[4] for row in rows[1:]} == {"2"}  # numbers stay numbers


# --- elsewhere: the gift panel, the profile, the nav ------------------------------------------


def test_the_gift_panel_tells_the_viewer_the_hosts_share(client, viewer, host, gifts, settings):
    stream = go_live(host, "Share")
    give_coins(viewer, 10)
    client.force_login(viewer)
    html = client.get(f"/live/{stream.pk}/gifts/").content.decode()
    assert shown(html, "gift-share") == "@host receives 50 % of the value."
    settings.GIFTING_CREATOR_SHARE_BP = 7000
    html = client.get(f"/live/{stream.pk}/gifts/").content.decode()
    assert shown(html, "gift-share") == "@host receives 70 % of the value."


def test_the_profile_shows_the_hosts_top_fans(
    client, host, viewer, lives, django_assert_max_num_queries
):
    with django_assert_max_num_queries(5):
        response = client.get(f"/@{host.handle}")
    html = response.content.decode()
    assert 'data-testid="profile"' in html
    fans = re.findall(r'<li class="row-actions" data-testid="top-fan">(.*?)</li>', html, re.S)
    assert len(fans) == 2
    assert "1." in fans[0] and "Vera Viewer" in fans[0] and "1,025 coins" in fans[0]
    assert "2." in fans[1] and "Fanny Fan" in fans[1] and "500 coins" in fans[1]
    # Someone who received no gifts shows no top fans at all.
    assert 'data-testid="top-fans"' not in client.get(f"/@{viewer.handle}").content.decode()


def test_the_profile_shows_at_most_ten_top_fans(client, host):
    for n in range(12):
        supporter = UserFactory(handle=f"supporter{n}")
        GiftTotal.objects.create(
            creator=host,
            sender=supporter,
            coins=100 + n,
            gifts=1,
            last_send=n,
            last_sent_at=timezone.now(),
        )
    html = client.get(f"/@{host.handle}").content.decode()
    fans = re.findall(r'data-testid="top-fan">(.*?)</li>', html, re.S)
    assert len(fans) == 10
    assert "111 coins" in fans[0] and "102 coins" in fans[9]


def test_signed_in_users_have_an_earnings_link_in_the_nav(client, viewer):
    assert 'data-testid="nav-earnings"' not in client.get("/").content.decode()
    client.force_login(viewer)
    html = client.get("/wallet/").content.decode()
    assert '<a href="/earnings/" data-testid="nav-earnings">Earnings</a>' in html
