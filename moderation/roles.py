"""The staff roles: Django groups and the permissions each holds.

Moderators act on shops, products, lives, chat, users and reports; finance on refunds and
payouts, and reads the ledger, settlements and orders. Neither holds the other's
permissions: a moderator cannot approve a payout, finance cannot ban a user. Superusers
hold every permission without a group. Both read the audit log."""

from __future__ import annotations

MODERATORS = "Moderators"
FINANCE = "Finance"

ROLES: dict[str, dict[str, list[str]]] = {
    MODERATORS: {
        "moderation": [
            "decide_shop",
            "take_down_product",
            "end_live",
            "moderate_chat",
            "mute_user",
            "ban_user",
            "resolve_report",
            "view_auditentry",
        ],
        "shops": ["view_shop", "view_product", "view_variant"],
        "streams": ["view_stream", "view_chatmessage", "view_deal"],
        "accounts": ["view_user"],
    },
    FINANCE: {
        "moderation": ["refund_order", "decide_payout", "view_auditentry"],
        "payments": ["view_ledgeraccount", "view_ledgertransaction", "view_ledgerentry"],
        "gifting": ["view_earningsstatement", "view_payout", "view_giftsend", "view_coinpurchase"],
        "orders": ["view_order"],
    },
}


def roles_ensure(apps=None) -> None:
    """Make (or complete) the role groups, creating the permissions first if the
    post-migrate signal has not yet (a migration passes its historical apps). Safe to run
    again: it adds what is missing and changes nothing else."""
    from django.contrib.auth.management import create_permissions

    if apps is None:
        from django.apps import apps
    for app_config in apps.get_app_configs():
        had = getattr(app_config, "models_module", None)
        # create_permissions skips an app without models_module, which a migration's
        # stub apps lack.
        app_config.models_module = had or True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = had
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    for name, by_app in ROLES.items():
        group, _ = group_model.objects.get_or_create(name=name)
        for app_label, codenames in by_app.items():
            found = list(
                permission_model.objects.filter(
                    content_type__app_label=app_label, codename__in=codenames
                )
            )
            missing = set(codenames) - {p.codename for p in found}
            if missing:
                raise RuntimeError(f"permissions missing for {name}: {sorted(missing)}")
            group.permissions.add(*found)
