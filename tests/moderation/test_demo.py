import pytest
from django.core.management import call_command

from moderation import selectors
from moderation.models import Report
from moderation.roles import FINANCE, MODERATORS
from tests.factories import UserFactory


@pytest.mark.django_db
def test_the_demo_has_a_staff_user_per_role_and_reports_in_the_queue():
    call_command("seed_demo", force=True)
    mona = UserFactory._meta.model.objects.get(handle="mona")
    finn = UserFactory._meta.model.objects.get(handle="finn")
    assert list(mona.groups.values_list("name", flat=True)) == [MODERATORS]
    assert list(finn.groups.values_list("name", flat=True)) == [FINANCE]
    assert mona.has_perm("moderation.resolve_report") and not mona.is_superuser
    queue = selectors.report_queue()
    assert [(g["target_type"], g["reports"]) for g in queue["groups"]] == [
        ("chat_message", 2),
        ("product", 1),
    ]
    call_command("seed_demo", force=True)  # again: nothing twice
    assert Report.objects.count() == 3
