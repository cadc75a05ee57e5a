"""The embed page (/live/<id>/embed/): a live's player that creators and merchants frame on
their own sites. Video, title, host, state and a link to the live page; no form, nothing
of the session; open exactly when the live page is; the one page other sites may frame."""

import html
import re

import pytest
from django.utils import timezone

from moderation.services import user_ban
from streams import services
from tests.config.test_csp import inline_code
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

FORM_CONTROLS = re.compile(r"<(form|input|button|textarea|select)\b", re.I)


def _embed(stream):
    return f"/live/{stream.pk}/embed/"


@pytest.fixture
def scheduled(live_host):
    stream, _ = services.stream_schedule(
        host=live_host, title="Sunday restock", scheduled_at=timezone.now()
    )
    return stream


@pytest.fixture
def ended(live, live_host):
    services.stream_end(stream=live, actor=live_host)
    live.refresh_from_db()
    return live


def test_the_embed_plays_a_live_with_its_title_host_and_a_way_to_the_live_page(client, live):
    response = client.get(_embed(live))
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-src="https://cdn.example/live.m3u8"' in page
    # The live page's player: our hls.js and the shared module, started by the embed's own.
    for script in ("vendor/hls.js/hls.min.js", "streams/player.js", "streams/embed.js"):
        assert f'<script src="/static/{script}" defer></script>' in page
    assert "streams/live.js" not in page
    assert 'data-testid="state">LIVE<' in page
    assert "Friday linen drop" in page and "@hana" in page
    watch = re.search(r'<a [^>]*data-testid="embed-watch"[^>]*>Watch and shop on Tapbuy</a>', page)
    assert watch is not None
    assert f'href="/live/{live.pk}"' in watch[0]
    # Every link leaves the frame: our other pages refuse to be framed.
    links = re.findall(r"<a [^>]*>", page)
    assert len(links) == 2
    assert all('target="_blank"' in a and 'rel="noopener"' in a for a in links)


def test_a_scheduled_live_shows_when_it_starts_and_has_no_video_yet(client, scheduled):
    page = client.get(_embed(scheduled)).content.decode()
    start = timezone.localtime(scheduled.scheduled_at).strftime("%a %H:%M")
    assert f'data-testid="state">Starts {start}<' in page
    assert 'data-src=""' in page
    assert "hls.min.js" not in page  # nothing to play through it
    assert "Sunday restock" in page


def test_an_ended_live_is_its_replay_with_controls(client, ended):
    page = client.get(_embed(ended)).content.decode()
    assert 'data-testid="state">Replay<' in page
    video = re.search(r"<video [^>]*>", page, re.S)[0]
    assert " controls " in video and " loop" not in video


def test_a_live_that_is_not_public_or_does_not_exist_is_a_404(client, live_host, scheduled):
    services.stream_cancel(stream=scheduled, actor=live_host)
    for path in (_embed(scheduled), "/live/999999/embed/"):
        response = client.get(path)
        assert response.status_code == 404, path
        # An error page is no embed: it stays unframeable.
        assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
        assert response["X-Frame-Options"] == "DENY"


def test_the_embed_is_open_exactly_when_the_live_page_is(client, live_host, live, staff):
    """The same rule as the live page (streams.selectors.stream_get), also after staff ban
    the host: the scheduled live is cancelled and gone, the one on air is ended (a replay)."""
    scheduled, _ = services.stream_schedule(
        host=live_host, title="Next week", scheduled_at=timezone.now()
    )
    streams = [live, scheduled]
    for stream in streams:
        assert client.get(_embed(stream)).status_code == 200
    user_ban(actor=staff, user_id=live_host.pk, reason="Scam sales")
    answers = {
        stream.pk: (
            client.get(_embed(stream)).status_code,
            client.get(f"/live/{stream.pk}").status_code,
        )
        for stream in streams
    }
    assert answers == {live.pk: (200, 200), scheduled.pk: (404, 404)}


def test_only_the_embed_may_be_framed_by_any_site(client, live, live_host):
    response = client.get(_embed(live))
    assert "frame-ancestors *;" in response["Content-Security-Policy"]
    assert "script-src 'self';" in response["Content-Security-Policy"]
    assert "X-Frame-Options" not in response
    client.force_login(live_host)
    for path in (f"/live/{live.pk}", "/", f"/studio/{live.pk}/", "/studio/"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert "frame-ancestors 'none'" in response["Content-Security-Policy"], path
        assert response["X-Frame-Options"] == "DENY", path


def test_the_framing_sites_come_from_the_setting(client, live, settings):
    settings.EMBED_FRAME_ANCESTORS = ["https://a.example", "https://b.example"]
    policy = client.get(_embed(live))["Content-Security-Policy"]
    assert "frame-ancestors https://a.example https://b.example;" in policy
    settings.EMBED_FRAME_ANCESTORS = []
    policy = client.get(_embed(live))["Content-Security-Policy"]
    assert "frame-ancestors 'none';" in policy


def test_the_embed_has_no_form_and_no_inline_code(client, live, live_host):
    services.carousel_set(stream=live, actor=live_host, product_ids=[])
    page = client.get(_embed(live)).content.decode()
    assert FORM_CONTROLS.findall(page) == []
    assert inline_code(page) == []


def test_the_embed_is_the_same_for_everyone_and_leaves_the_session_alone(client, live, viewer):
    anonymous = client.get(_embed(live))
    assert anonymous.cookies == {}
    assert "Cookie" not in anonymous.get("Vary", "")
    client.force_login(viewer)
    signed_in = client.get(_embed(live))
    assert signed_in.content == anonymous.content
    assert signed_in.cookies == {}
    assert "Cookie" not in signed_in.get("Vary", "")
    assert "csrfmiddlewaretoken" not in signed_in.content.decode()


def test_the_embed_reads_one_row(client, live, viewer, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert client.get(_embed(live)).status_code == 200
    client.force_login(viewer)  # the session is never loaded: still one query
    with django_assert_num_queries(1):
        assert client.get(_embed(live)).status_code == 200


def test_the_embed_takes_no_writes(client, live):
    for method in ("post", "put", "patch", "delete"):
        assert getattr(client, method)(_embed(live)).status_code == 405


def test_the_embed_and_the_live_page_share_the_player(client, live):
    for path in (_embed(live), f"/live/{live.pk}"):
        page = client.get(path).content.decode()
        assert '<script src="/static/streams/player.js" defer></script>' in page, path
        assert 'id="video" class="video"' in page, path


# --- the host's console ----------------------------------------------------------------------


def _embed_code(page: str) -> str:
    """The text of the console's embed box, as the host copies it."""
    match = re.search(r'<textarea [^>]*data-testid="embed-code"[^>]*>(.*?)</textarea>', page, re.S)
    assert match is not None
    return html.unescape(match[1])


def test_the_console_shows_the_code_to_embed_the_live(client, live_host):
    title = 'Linen "drop" <script>alert(1)</script> & more'
    stream, _ = services.stream_schedule(host=live_host, title=title, scheduled_at=timezone.now())
    client.force_login(live_host)
    page = client.get(f"/studio/{stream.pk}/", secure=True).content.decode()
    assert "<script>alert(1)" not in page
    code = _embed_code(page)
    assert code == (
        f'<iframe src="https://testserver/live/{stream.pk}/embed/" '
        'title="Linen &quot;drop&quot; &lt;script&gt;alert(1)&lt;/script&gt; &amp; more" '
        'width="360" height="640" allow="autoplay; fullscreen; picture-in-picture" '
        'allowfullscreen loading="lazy"></iframe>'
    )
    # The code works: it frames the page the URL names.
    src = re.search(r'src="([^"]+)"', code)[1]
    assert client.get(src.removeprefix("https://testserver"), secure=True).status_code == 200


def test_a_cancelled_live_offers_no_embed_code(client, live_host, scheduled):
    client.force_login(live_host)
    assert "embed-code" in client.get(f"/studio/{scheduled.pk}/").content.decode()
    services.stream_cancel(stream=scheduled, actor=live_host)
    assert "embed-code" not in client.get(f"/studio/{scheduled.pk}/").content.decode()


def test_only_the_host_sees_the_console_and_its_code(client, live):
    client.force_login(UserFactory(handle="otto"))
    assert client.get(f"/studio/{live.pk}/").status_code == 404
