"""Secrets come from the environment: the settings module holds none but the embedded
default's two public ones, and production refuses those. HSTS only in production."""

import ast
import re
from pathlib import Path

import pytest

from tests.config.test_settings import PROD, _manage

SETTINGS = Path(__file__).resolve().parents[2] / "config" / "settings.py"
SECRET_NAME = re.compile(r"SECRET|PASSWORD$|_TOKEN$|API_KEY|PRIVATE_KEY|CREDENTIALS?$|_DSN$")


def _module():
    return ast.parse(SETTINGS.read_text())


def _reads_the_environment(node: ast.AST) -> bool:
    """env.<kind>("NAME", ...) or env("NAME")."""
    return (
        isinstance(node, ast.Call)
        and (
            (isinstance(node.func, ast.Attribute) and getattr(node.func.value, "id", "") == "env")
            or getattr(node.func, "id", "") == "env"
        )
        and bool(node.args)
        and isinstance(node.args[0], ast.Constant)
    )


def test_every_secret_setting_is_read_from_the_environment():
    secrets = {}
    for node in ast.walk(_module()):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                name = getattr(target, "id", "")
                if SECRET_NAME.search(name) and not name.startswith("EMBEDDED_"):
                    secrets.setdefault(name, []).append(node.value)
    assert set(secrets) >= {"SECRET_KEY", "PAYMENTS_WEBHOOK_SECRET"}
    for name, values in secrets.items():
        for value in values:
            assert _reads_the_environment(value), f"{name} is not read from the environment"
            assert value.args[0].value == name


DEVELOPMENT_DEFAULTS = {
    "tapbuy-embedded-default-not-secret",
    "whsec_tapbuy_embedded_default_not_secret",
}


def _looks_like_a_secret(text: str) -> bool:
    """A provider's key prefix, or a long random-looking token (letters and digits mixed,
    no spaces, dots or slashes: not a message, a dotted path or a URL)."""
    if re.match(r"(whsec_|sk_live_|sk_test_|rk_live_|pk_live_)", text):
        return True
    return bool(
        re.fullmatch(r"[A-Za-z0-9_\-+=]{24,}", text)
        and re.search(r"\d", text)
        and re.search(r"[a-z]", text)
        and re.search(r"[A-Z]", text)
    )


def test_no_literal_in_the_settings_is_a_secret_or_carries_credentials():
    """Apart from the two public development defaults; no URL in the settings carries a
    user and password (those come with DATABASE_URL, REDIS_URL and EMAIL_URL)."""
    strings = [
        node.value
        for node in ast.walk(_module())
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]
    assert set(strings) >= DEVELOPMENT_DEFAULTS
    assert [s for s in strings if _looks_like_a_secret(s)] == [
        "whsec_tapbuy_embedded_default_not_secret"
    ]
    assert [s for s in strings if re.search(r"://[^/\s:@]+:[^/\s@]+@", s)] == []
    assert _looks_like_a_secret(PROD["SECRET_KEY"]) and _looks_like_a_secret("sk_live_x")


@pytest.mark.parametrize(
    ("variable", "development_value"),
    [
        ("SECRET_KEY", "tapbuy-embedded-default-not-secret"),
        ("PAYMENTS_WEBHOOK_SECRET", "whsec_tapbuy_embedded_default_not_secret"),
    ],
)
def test_production_refuses_the_development_secrets(variable, development_value):
    result = _manage("check", **{**PROD, variable: development_value})
    assert result.returncode != 0
    assert variable in result.stderr


PRINT_SECURITY = (
    "from django.conf import settings as s; "
    "print(s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_SSL_REDIRECT, "
    "s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE)"
)


def test_hsts_and_secure_cookies_only_in_production():
    production = _manage("shell", "-c", PRINT_SECURITY, **PROD)
    assert production.returncode == 0, production.stderr
    assert production.stdout.splitlines()[-1].split() == [
        "31536000",
        "True",
        "True",
        "True",
        "True",
    ]
    development = _manage("shell", "-c", PRINT_SECURITY, DEBUG="1")
    assert development.returncode == 0, development.stderr
    assert development.stdout.splitlines()[-1].split() == ["0", "False", "False", "False", "False"]
