from importlib import import_module
from importlib.util import find_spec

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts.demo import seed_accounts


class Command(BaseCommand):
    help = "Create demo data (idempotent: running it again adds nothing twice)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--force",
            action="store_true",
            help="Seed even with DEBUG=0 (demo passwords are public: never on a real site).",
        )

    def handle(self, *args, force=False, **options):
        if not settings.DEBUG and not force:
            raise CommandError("Refusing to seed demo accounts with DEBUG=0 (use --force).")
        rows = seed_accounts()
        # Each app above accounts may add its demo data in <app>/demo.py: seed() -> lines.
        # They run in INSTALLED_APPS order, which is the apps' dependency order.
        lines = []
        for config in apps.get_app_configs():
            if config.name == "accounts" or not find_spec(f"{config.name}.demo"):
                continue
            module = import_module(f"{config.name}.demo")
            if hasattr(module, "seed"):
                lines += module.seed()
        self.stdout.write(self.style.SUCCESS("Demo data ready. Log in with:"))
        for role, login, password in rows:
            self.stdout.write(f"  {role:<9} {login:<12} {password}")
        for line in lines:
            self.stdout.write(f"  {line}")
