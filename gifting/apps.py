from django.apps import AppConfig


class GiftingConfig(AppConfig):
    name = "gifting"
    verbose_name = "Coins and gifts"

    def ready(self):
        from payments.signals import payment_failed, payment_succeeded

        from .receivers import on_payment_failed, on_payment_succeeded

        payment_succeeded.connect(on_payment_succeeded, dispatch_uid="gifting.payment_succeeded")
        payment_failed.connect(on_payment_failed, dispatch_uid="gifting.payment_failed")
