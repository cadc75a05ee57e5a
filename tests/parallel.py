"""Loaded before Django's settings (`-p tests.parallel` in pytest's options): each test
process that pytest-xdist starts shares the one Redis with the others, so it gets keys, a
channel prefix and a Celery queue of its own. Its database is its own already
(pytest-django names it after the process)."""

import os

worker = os.environ.get("PYTEST_XDIST_WORKER")
if worker:
    for name, default in (
        ("CACHE_PREFIX", "tapbuy"),
        ("CHANNEL_PREFIX", "tapbuy"),
        ("CELERY_QUEUE", "celery"),
    ):
        os.environ[name] = f"{os.environ.get(name, default)}-{worker}"
