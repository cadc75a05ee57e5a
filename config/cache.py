"""The Redis cache, for a site that keeps working while Redis is down.

The cache holds nothing that must survive: rate-limit counters and cached fragments. If
Redis cannot be reached, reads miss and writes are dropped (a rate limit does not count
for that moment) instead of failing the page, the checkout or the API call that asked.
After a failure the cache skips Redis for OUTAGE_PAUSE seconds, so that a request does not
wait for a connect timeout on every call."""

from __future__ import annotations

import functools
import logging
import time

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)

OUTAGE_PAUSE = 2.0
UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)


def _degrades(fallback):
    """Run the cache call, or return fallback(*args, **kwargs) when Redis is out of reach."""

    def decorate(method):
        @functools.wraps(method)
        def call(self, *args, **kwargs):
            if time.monotonic() - self._failed_at < OUTAGE_PAUSE:
                return fallback(*args, **kwargs)
            try:
                return method(self, *args, **kwargs)
            except UNREACHABLE:
                if time.monotonic() - self._failed_at >= OUTAGE_PAUSE * 5:
                    log.warning("cache: Redis unreachable, serving without it", exc_info=True)
                self._failed_at = time.monotonic()
                return fallback(*args, **kwargs)

        return call

    return decorate


def _miss(key, default=None, version=None):
    return default


class ResilientRedisCache(RedisCache):
    _failed_at = -1e9

    @_degrades(lambda *args, **kwargs: True)
    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return super().add(key, value, timeout, version)

    @_degrades(_miss)
    def get(self, key, default=None, version=None):
        return super().get(key, default, version)

    @_degrades(lambda *args, **kwargs: None)
    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return super().set(key, value, timeout, version)

    @_degrades(lambda *args, **kwargs: False)
    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return super().touch(key, timeout, version)

    @_degrades(lambda *args, **kwargs: False)
    def delete(self, key, version=None):
        return super().delete(key, version)

    @_degrades(lambda *args, **kwargs: {})
    def get_many(self, keys, version=None):
        return super().get_many(keys, version)

    @_degrades(lambda *args, **kwargs: False)
    def has_key(self, key, version=None):
        return super().has_key(key, version)

    @_degrades(lambda key, delta=1, version=None: delta)
    def incr(self, key, delta=1, version=None):
        return super().incr(key, delta, version)

    @_degrades(lambda data, *args, **kwargs: list(data))
    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        return super().set_many(data, timeout, version)

    @_degrades(lambda *args, **kwargs: None)
    def delete_many(self, keys, version=None):
        return super().delete_many(keys, version)
