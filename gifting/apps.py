from django.apps import AppConfig


class GiftingConfig(AppConfig):
    name = "gifting"
    verbose_name = "Coins and gifts"

    def ready(self):
        from payments.signals import payment_failed, payment_succeeded

        from .receivers import on_payment_failed, on_payment_succeeded

        payment_succeeded.connect(on_payment_succeeded, dispatch_uid="gifting.payment_succeeded")
        payment_failed.connect(on_payment_failed, dispatch_uid="gifting.payment_failed")

        from streams.snapshots import register_part

        from .selectors import top_gifters_for_stream

        # A new viewer's snapshot carries the live's top gifters; gift.sent keeps them current.
        register_part("leaderboard", lambda stream_id: top_gifters_for_stream(stream_id=stream_id))
