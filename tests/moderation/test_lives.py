"""Staff end a live now from admin: its viewers are told at once, the host can be kept off
air for some days, and the action is in the audit log."""

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from moderation.models import AuditEntry
from streams import services
from streams.errors import HostSuspended
from streams.models import Stream
from tests.moderation.conftest import admin_client, staff_member
from tests.streams.conftest import connect, receive_type

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("flush_layer")]

CHANGELIST = "/admin/streams/stream/"


def _end(user, stream, **form):
    return admin_client(user).post(
        CHANGELIST,
        {"action": "end_now", "_selected_action": [stream.pk], "apply": "1", **form},
    )


async def test_a_moderator_ends_a_live_and_its_viewers_see_it_end(live, live_host, moderator):
    viewer, _ = await connect(live.pk)
    response = await sync_to_async(_end)(
        moderator, live, reason="Selling counterfeit goods", suspend_days=3
    )
    assert response.status_code == 302
    event = await receive_type(viewer, "stream.state")
    assert event["data"]["status"] == "ended"
    await viewer.disconnect()

    stream = await sync_to_async(Stream.objects.get)(pk=live.pk)
    assert stream.status == Stream.Status.ENDED
    assert stream.ended_reason == "staff: Selling counterfeit goods"
    entry = await sync_to_async(AuditEntry.objects.select_related("actor", "subject").get)()
    assert (entry.actor, entry.subject, entry.action) == (moderator, live_host, "live.end")
    assert (entry.target_type, entry.target_id) == ("streams.stream", live.pk)
    assert entry.reason == "Selling counterfeit goods"
    assert entry.before["status"] == "live" and entry.before["host_live_suspended_until"] is None
    assert entry.after["status"] == "ended" and entry.after["host_live_suspended_until"]

    # The host cannot go live again during the suspension, from the console or the encoder.
    @sync_to_async
    def go_live_again():
        again, _ = services.stream_schedule(
            host=live_host, title="Back again", scheduled_at=timezone.now()
        )
        for actor in (live_host, None):
            with pytest.raises(HostSuspended):
                services.stream_go_live(stream=again, actor=actor)
        return Stream.objects.get(pk=again.pk).status

    assert await go_live_again() == Stream.Status.SCHEDULED


def test_without_a_suspension_the_host_may_go_live_again(live, live_host, moderator):
    assert _end(moderator, live, reason="Stream went off topic", suspend_days=0).status_code == 302
    live_host.refresh_from_db()
    assert live_host.live_suspended_until is None
    again, _ = services.stream_schedule(host=live_host, title="Again", scheduled_at=timezone.now())
    assert services.stream_go_live(stream=again, actor=live_host).status == Stream.Status.LIVE


def test_the_action_first_asks_for_a_reason(live, moderator):
    client = admin_client(moderator)
    page = client.post(CHANGELIST, {"action": "end_now", "_selected_action": [live.pk]})
    assert page.status_code == 200
    assert b'name="reason"' in page.content and b'name="suspend_days"' in page.content
    for form in ({"reason": "", "suspend_days": 0}, {"reason": "ok", "suspend_days": 400}):
        page = client.post(
            CHANGELIST, {"action": "end_now", "_selected_action": [live.pk], "apply": "1", **form}
        )
        assert page.status_code == 200  # the form again, with its error
        assert b"errorlist" in page.content
    live.refresh_from_db()
    assert live.status == Stream.Status.LIVE
    assert not AuditEntry.objects.exists()


def test_staff_without_the_permission_cannot_end_a_live(live, finance):
    # Finance does not even see the lives.
    response = _end(finance, live, reason="Finance should not do this", suspend_days=0)
    assert response.status_code == 403
    # Staff who see them without the permission are not offered the action: nothing done.
    from django.contrib.auth.models import Permission

    onlooker = staff_member("onlooker", None)
    onlooker.user_permissions.add(Permission.objects.get(codename="view_stream"))
    response = _end(onlooker, live, reason="Only looking around", suspend_days=0)
    assert response.status_code == 200  # the list again: no such action for them
    assert b"end_now" not in admin_client(onlooker).get(CHANGELIST).content
    live.refresh_from_db()
    assert live.status == Stream.Status.LIVE
    assert not AuditEntry.objects.exists()


def test_the_service_refuses_staff_without_the_permission_too(live, finance):
    from moderation import services as moderation
    from moderation.errors import NoPermission

    with pytest.raises(NoPermission):
        moderation.live_end_now(actor=finance, stream_id=live.pk, reason="Not my job")
    live.refresh_from_db()
    assert live.status == Stream.Status.LIVE and not AuditEntry.objects.exists()


def test_ending_a_live_that_already_ended_records_nothing(live, live_host, moderator):
    services.stream_end(stream=live, actor=live_host)
    response = _end(moderator, live, reason="Too late for this", suspend_days=1)
    assert response.status_code == 302
    live_host.refresh_from_db()
    assert live_host.live_suspended_until is None
    assert not AuditEntry.objects.exists()
