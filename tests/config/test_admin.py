import pytest
from django.contrib import admin
from django.core.management import call_command
from django.urls import reverse


@pytest.mark.django_db
def test_every_admin_list_search_and_page_opens_for_staff(client, staff):
    call_command("seed_demo", force=True)
    client.force_login(staff)
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        assert client.get(changelist).status_code == 200, changelist
        if model_admin.search_fields:
            assert client.get(changelist, {"q": "a"}).status_code == 200, changelist
        obj = model._default_manager.order_by("pk").first()
        if obj is not None:
            page = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
            assert client.get(page).status_code == 200, page
