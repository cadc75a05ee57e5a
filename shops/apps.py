from django.apps import AppConfig


class ShopsConfig(AppConfig):
    name = "shops"
    verbose_name = "Shops and catalog"

    def ready(self):
        from accounts.signals import business_account_leaving

        from .receivers import refuse_leaving_business_with_a_shop

        business_account_leaving.connect(refuse_leaving_business_with_a_shop)
