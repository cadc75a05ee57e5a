import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROD = {
    "DEBUG": "0",
    "SECRET_KEY": "Zq8-vL2pX9_kR4tY7wN1mB6cH3jF0sD5gA8uE2iO4yT9rW1xQ7nM3bV6",
    "ALLOWED_HOSTS": "shop.example.com",
    "PAYMENTS_WEBHOOK_SECRET": "whsec_" + "w" * 40,
}


def _manage(*args, **env):
    merged = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "SECRET_KEY")}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**merged, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_refuses_to_start_without_a_secret_key():
    result = _manage("check", DEBUG="0", ALLOWED_HOSTS="shop.example.com")
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_production_refuses_to_start_without_hosts():
    result = _manage("check", DEBUG="0", SECRET_KEY="k" * 64, ALLOWED_HOSTS="")
    assert result.returncode != 0
    assert "ALLOWED_HOSTS" in result.stderr


def test_deploy_check_is_clean_in_production():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", **PROD)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


def test_seed_demo_refuses_production_without_force():
    result = _manage("seed_demo", **PROD)
    assert result.returncode != 0
    assert "Refusing" in result.stderr


def test_static_files_collect_with_the_production_storage(tmp_path):
    """make serve collects static files into hashed names: every file they reference must
    exist (a vendored script pointing at a missing source map would stop it)."""
    result = _manage("collectstatic", "--noinput", "-v0", **PROD, STATIC_ROOT=str(tmp_path))
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "staticfiles.json").exists()


def test_production_refuses_to_start_without_a_webhook_secret():
    env = {**PROD, "PAYMENTS_WEBHOOK_SECRET": ""}
    result = _manage("check", **env)
    assert result.returncode != 0
    assert "PAYMENTS_WEBHOOK_SECRET" in result.stderr


POOL_PROBE = """
import threading, time
from django.db import connection
pids, errors = set(), []
def work():
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid(), pg_sleep(0.2)")
            pids.add(cursor.fetchone()[0])
    except Exception as exc:
        errors.append(repr(exc))
    finally:
        connection.close()  # gives the connection back to the pool
threads = [threading.Thread(target=work) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
print(len(pids), len(errors))
"""


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_pool_bounds_the_connections_of_a_process():
    """Eight requests at once in one process share a pool of three connections: none is
    refused, and no more than three connections are opened."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"
    result = _manage("shell", "-c", POOL_PROBE, DATABASE_URL=url, DATABASE_POOL_MAX_SIZE="3")
    assert result.returncode == 0, result.stderr
    opened, errors = map(int, result.stdout.strip().splitlines()[-1].split())
    assert errors == 0 and 1 <= opened <= 3


def test_a_pool_needs_postgresql():
    result = _manage("check", DATABASE_URL="sqlite:///unused.sqlite3", DATABASE_POOL_MAX_SIZE="5")
    assert result.returncode != 0
    assert "DATABASE_POOL_MAX_SIZE" in result.stderr
