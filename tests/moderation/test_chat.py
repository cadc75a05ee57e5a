"""Staff hide and restore chat lines from admin, with a reason in the audit log."""

import json

import pytest
from asgiref.sync import sync_to_async

from moderation.models import AuditEntry
from streams.models import ChatMessage
from tests.factories import UserFactory
from tests.moderation.conftest import admin_client
from tests.streams.conftest import connect, receive_type

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("flush_layer")]

CHANGELIST = "/admin/streams/chatmessage/"


def _act(user, action, message, reason="Harassing another viewer"):
    return admin_client(user).post(
        CHANGELIST,
        {"action": action, "_selected_action": [message.pk], "apply": "1", "reason": reason},
    )


async def test_a_moderator_hides_a_line_and_it_disappears_at_once(live, moderator):
    author = await sync_to_async(UserFactory)(handle="loud")
    viewer, _ = await connect(live.pk, author)
    await viewer.send_to(text_data=json.dumps({"type": "chat.send", "data": {"text": "spam"}}))
    line = await receive_type(viewer, "chat.message")
    message = await sync_to_async(ChatMessage.objects.get)(pk=line["data"]["id"])

    assert (await sync_to_async(_act)(moderator, "hide", message)).status_code == 302
    assert (await receive_type(viewer, "chat.deleted"))["data"] == {"id": message.pk}
    await viewer.disconnect()

    message = await sync_to_async(ChatMessage.objects.get)(pk=message.pk)
    assert message.hidden
    entry = await sync_to_async(AuditEntry.objects.select_related("subject").get)()
    assert (entry.action, entry.target_id, entry.subject) == ("chat.hide", message.pk, author)
    assert (entry.before, entry.after) == ({"hidden": False}, {"hidden": True})


def test_a_moderator_restores_a_hidden_line(live, moderator):
    message = ChatMessage.objects.create(stream=live, user=UserFactory(), text="fine", hidden=True)
    assert _act(moderator, "restore", message, reason="Reported by mistake").status_code == 302
    message.refresh_from_db()
    assert not message.hidden and message.hidden_by is None
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.before, entry.after) == (
        "chat.restore",
        {"hidden": True},
        {"hidden": False},
    )


def test_staff_without_the_permission_cannot_hide(live, finance):
    message = ChatMessage.objects.create(stream=live, user=UserFactory(), text="hello")
    assert _act(finance, "hide", message).status_code == 403
    message.refresh_from_db()
    assert not message.hidden and not AuditEntry.objects.exists()
