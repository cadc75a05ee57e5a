from django.apps import AppConfig


class StreamsConfig(AppConfig):
    name = "streams"
    verbose_name = "Live streams"

    def ready(self):
        from shops.signals import stock_changed

        from .receivers import announce_stock_in_lives

        stock_changed.connect(announce_stock_in_lives)
