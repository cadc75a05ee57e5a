import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_healthz_reports_each_service(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"] == {"database": "ok", "live_events": "ok", "broker": "ok"}


def test_healthz_is_503_when_the_database_is_down(tmp_path):
    """A real server whose database cannot be reached: pages cannot work, so 503."""
    port = free_port()
    env = {
        **os.environ,
        # Nothing listens on port 1: the connection is refused at once.
        "DATABASE_URL": "postgres://tapbuy@127.0.0.1:1/tapbuy",
        "TAPBUY_VAR_DIR": str(tmp_path),
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "config.asgi:application",
            "--port",
            str(port),
            "--lifespan",
            "off",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        body, status = None, None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as r:
                    status, body = r.status, r.read()
            except urllib.error.HTTPError as error:
                status, body = error.code, error.read()
            except OSError:
                time.sleep(0.2)
                continue
            break
        assert status == 503
        payload = json.loads(body)
        assert payload["status"] == "down"
        assert payload["checks"]["database"] == "down"
    finally:
        server.terminate()
        server.wait(timeout=10)
