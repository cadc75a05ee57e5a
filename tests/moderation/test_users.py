"""Staff mute a user in every live, or ban them: signed out everywhere, API tokens
refused, open live sockets closed, lives ended. Both with a reason in the audit log."""

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from moderation.models import AuditEntry
from streams import services
from streams.errors import ChatRefused
from streams.models import Stream
from tests.factories import UserFactory
from tests.moderation.conftest import admin_client
from tests.streams.conftest import connect, receive_type

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("flush_layer")]

CHANGELIST = "/admin/accounts/user/"


def _act(staff, action, user, **form):
    return admin_client(staff).post(
        CHANGELIST,
        {"action": action, "_selected_action": [user.pk], "apply": "1", **form},
    )


async def test_a_banned_user_is_signed_out_everywhere(live, live_host, moderator):
    token = await sync_to_async(Token.objects.create)(user=live_host)
    # The host's own socket in another user's live, and their own live with a viewer.
    other_host = await sync_to_async(UserFactory)(handle="otto", is_business=True)

    @sync_to_async
    def other_live():
        stream, _ = services.stream_schedule(
            host=other_host, title="Otto's live", scheduled_at=timezone.now()
        )
        services.stream_go_live(stream=stream, actor=other_host)
        return stream

    elsewhere = await other_live()
    socket, _ = await connect(elsewhere.pk, live_host)
    viewer, _ = await connect(live.pk)

    response = await sync_to_async(_act)(moderator, "ban", live_host, reason="Scam sales")
    assert response.status_code == 302

    closed = await socket.receive_output(timeout=5)
    assert closed == {"type": "websocket.close", "code": 4401}
    assert (await receive_type(viewer, "stream.state"))["data"]["status"] == "ended"
    await viewer.disconnect()

    @sync_to_async
    def after():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        assert client.get("/api/v1/me/").status_code == 401
        live_host.refresh_from_db()
        assert not live_host.is_active
        assert not Token.objects.filter(user=live_host).exists()
        assert Stream.objects.get(pk=live.pk).status == Stream.Status.ENDED
        entry = AuditEntry.objects.get()
        assert (entry.action, entry.subject, entry.reason) == ("user.ban", live_host, "Scam sales")
        assert entry.after["lives_ended"] == [live.pk]

    await after()


def test_a_muted_user_cannot_chat_in_any_live(live, moderator):
    chatter = UserFactory(handle="loud")
    services.chat_send(user=chatter, stream_id=live.pk, text="before")
    assert _act(moderator, "mute", chatter, reason="Spamming", hours=24).status_code == 302
    with pytest.raises(ChatRefused) as refused:
        services.chat_send(user=chatter, stream_id=live.pk, text="after")
    assert refused.value.code == "muted"
    chatter.refresh_from_db()
    assert chatter.chat_muted_until > timezone.now() + timezone.timedelta(hours=23)
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.before["chat_muted_until"]) == ("user.mute", None)


def test_staff_accounts_are_not_banned_here_and_finance_cannot_ban(moderator, finance):
    target = UserFactory(handle="target")
    # Finance does not even see users.
    assert _act(finance, "ban", target, reason="Not my call").status_code == 403
    assert _act(moderator, "ban", finance, reason="Colleague").status_code == 302
    target.refresh_from_db()
    finance.refresh_from_db()
    assert target.is_active and finance.is_active
    assert not AuditEntry.objects.exists()


async def test_a_banned_socket_cannot_chat_even_if_it_stayed_open(live, moderator):
    chatter = await sync_to_async(UserFactory)(handle="late")
    sender, _ = await connect(live.pk, chatter)
    await sync_to_async(_act)(moderator, "ban", chatter, reason="Abusive")
    # Its socket is closed; a service call with the stale user is refused anyway.
    with pytest.raises(ChatRefused):
        await sync_to_async(services.chat_send)(user=chatter, stream_id=live.pk, text="hi")
    await sender.disconnect()


def test_a_users_moderation_history(live, live_host, moderator):
    from moderation import services as moderation

    moderation.live_end_now(actor=moderator, stream_id=live.pk, reason="Counterfeits")
    client = admin_client(moderator)
    page = client.get(f"/admin/moderation/auditentry/user/{live_host.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "End a live" in html and "Counterfeits" in html
    # The moderator's own page lists what they did as staff.
    assert (
        "Counterfeits"
        in client.get(f"/admin/moderation/auditentry/user/{moderator.pk}/").content.decode()
    )
    # Linked from the user's admin page.
    change = client.get(f"/admin/accounts/user/{live_host.pk}/change/").content.decode()
    assert f"/admin/moderation/auditentry/user/{live_host.pk}/" in change
    # Staff without access to the log are refused.
    from tests.moderation.conftest import staff_member

    assert (
        admin_client(staff_member("nobody", None))
        .get(f"/admin/moderation/auditentry/user/{live_host.pk}/")
        .status_code
        == 403
    )
