"""GCP query cache: Memorystore (Redis), shared by every instance of the read service.

Values are plain ``SET key value PX ttl``; the stampede lock is ``SET lock token NX PX ttl`` and is
released only by its holder (a compare-and-delete script), so a lock that expired and was taken by
another instance is not released by the first one.

The cache must never make a read slower than going to the store, so every Redis problem is a miss:
``get`` answers None, ``set``/``unlock`` do nothing, ``try_lock`` answers True (compute rather than
wait on a cache that cannot tell), ``failures`` counts it, and a warning is logged at most once a
minute. Three things keep a dead Redis cheap:

- short timeouts (``connect()``): 50 ms to connect, 100 ms per socket read or write. Memorystore
  in the same region answers in well under 1 ms and a TCP handshake inside the VPC takes about as
  long, so both leave ~50-100x headroom; the read timeout bounds each socket read, not a whole
  reply, so large cached pages still arrive.
- no retries (``connect()``): redis-py's ``Redis(host=...)`` retries 10 times with back-off up to
  1 s, which is seconds per call. A pooled connection the server closed is replaced when it is
  taken from the pool, and a failed call is only a miss.
- after a failure the cache leaves Redis alone for ``health.rest_seconds`` (1 s): calls in that
  window are misses (counted) at no cost, so a Redis that hangs costs one timeout per second per
  process, not one per cache call (a read makes up to four).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Collection
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from auditlog.backends.gcp.redis_failures import RedisFailures
from auditlog.errors import ConfigurationError

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 0.05
SOCKET_TIMEOUT_SECONDS = 0.1

# Delete the lock only if it still holds our token.
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""

_ERRORS = (redis.RedisError, OSError)


def tls_options(url: str, ca_cert: str | None) -> dict[str, Any]:
    """Server verification for ``rediss://`` URLs: Memorystore's in-transit encryption presents a
    certificate of the instance's own CA (``server_ca_certs``), given as ``ca_cert`` (PEM). Its
    common name is the instance's IP, which Python's hostname check does not match (names in CNs
    are not checked, and redis-py turns the check on: redis/redis-py#3629), so the chain is
    verified against that CA alone, which is what authenticates the server."""
    secure = url.startswith("rediss://")
    if ca_cert and not secure:
        raise ConfigurationError("AUDITLOG_REDIS_CA_CERT needs a rediss:// AUDITLOG_REDIS_URL")
    if not secure or not ca_cert:
        return {}
    return {"ssl_cert_reqs": "required", "ssl_ca_data": ca_cert, "ssl_check_hostname": False}


def connect(
    url: str,
    *,
    connect_timeout: float = CONNECT_TIMEOUT_SECONDS,
    socket_timeout: float = SOCKET_TIMEOUT_SECONDS,
    ca_cert: str | None = None,
) -> redis.Redis:
    """A client that fails fast: short timeouts and no retries (see the module docstring)."""
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=connect_timeout,
        socket_timeout=socket_timeout,
        retry=Retry(NoBackoff(), 0),
        **tls_options(url, ca_cert),
    )


def _milliseconds(seconds: float) -> int:
    return max(1, round(seconds * 1000))


class RedisQueryCache:
    """``QueryCache`` on Redis. Owns ``client`` (closes it); build it with ``connect()``."""

    def __init__(self, client: redis.Redis, prefix: str = "qc:") -> None:
        self._client = client
        self._values = f"{prefix}v:"
        self._locks = f"{prefix}l:"
        self._generations = f"{prefix}g:"
        self._release = client.register_script(_RELEASE)
        self._tokens: dict[str, str] = {}  # key -> token of a lock this process holds
        self._mutex = threading.Lock()
        self.health = RedisFailures("query cache", "reads go to the store", logger=log)
        _warn_if_slow(client)

    @property
    def failures(self) -> int:
        return self.health.count

    @classmethod
    def from_url(cls, url: str, prefix: str = "qc:") -> RedisQueryCache:
        return cls(connect(url), prefix)

    def ping(self) -> None:
        self._client.ping()

    def get(self, key: str) -> bytes | None:
        if self.health.resting():
            return None
        try:
            value = self._client.get(self._values + key)
        except _ERRORS as exc:
            self.health.failed("GET", exc)
            return None
        return value.encode() if isinstance(value, str) else value

    def set(self, key: str, value: bytes, ttl_seconds: float) -> None:
        if self.health.resting():
            return
        try:
            if ttl_seconds <= 0:
                self._client.delete(self._values + key)
            else:
                self._client.set(self._values + key, value, px=_milliseconds(ttl_seconds))
        except _ERRORS as exc:
            self.health.failed("SET", exc)

    def try_lock(self, key: str, ttl_seconds: float) -> bool:
        if self.health.resting():
            return True  # cannot tell: compute rather than wait
        token = uuid.uuid4().hex
        try:
            acquired = self._client.set(self._locks + key, token, nx=True, px=_milliseconds(ttl_seconds))
        except _ERRORS as exc:
            self.health.failed("SET NX", exc)
            return True
        if not acquired:
            return False
        with self._mutex:
            self._tokens[key] = token
        return True

    def unlock(self, key: str) -> None:
        with self._mutex:
            token = self._tokens.pop(key, None)
        if token is None or self.health.resting():
            return  # not ours, taken while Redis was unreachable, or it expires by itself
        try:
            self._release(keys=[self._locks + key], args=[token])
        except _ERRORS as exc:
            self.health.failed("unlock", exc)

    def generations(self, tenant_ids: tuple[str, ...]) -> list[str]:
        unknown = [uuid.uuid4().hex for _ in tenant_ids]  # never matches a cached key
        if self.health.resting():
            return unknown
        try:
            values = self._client.mget([self._generations + t for t in tenant_ids])
        except _ERRORS as exc:
            self.health.failed("MGET", exc)
            return unknown
        return ["0" if v is None else (v.decode() if isinstance(v, bytes) else str(v)) for v in values]

    def bump(self, tenant_ids: Collection[str]) -> None:
        if not tenant_ids:
            return
        try:
            pipeline = self._client.pipeline(transaction=False)
            for tenant in tenant_ids:
                pipeline.incr(self._generations + tenant)
            pipeline.execute()
        except _ERRORS as exc:
            self.health.failed("INCR", exc)

    def close(self) -> None:
        self._client.close()


def _warn_if_slow(client: redis.Redis) -> None:
    """A client with redis-py's defaults (5 s timeouts, up to 10 retries) turns a dead Redis into
    slow reads: say so once, at start-up, if one call can wait more than a second."""
    pool = client.connection_pool
    probe = pool.connection_class(**pool.connection_kwargs)  # not connected: only its settings
    read_timeout = probe.socket_timeout
    connect_timeout = getattr(probe, "socket_connect_timeout", None) or read_timeout
    retries = probe.retry.get_retries() if probe.retry is not None else 0
    if (
        read_timeout is None
        or connect_timeout is None
        or (retries + 1) * max(read_timeout, connect_timeout) > 1.0
    ):
        log.warning(
            "query cache: the Redis client waits up to %s s to connect and %s s to read, with %d "
            "retries, so a dead Redis slows reads; build it with redis_cache.connect() to fail fast",
            connect_timeout,
            read_timeout,
            retries,
        )
