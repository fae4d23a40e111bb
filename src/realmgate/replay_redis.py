"""Replay protection shared by several nodes: (iss, jti) recorded in Redis (issue 8).

``[replay] url = "redis://…"`` makes the HTTP service use :class:`RedisReplayStore` instead of
the process-local :class:`~realmgate.replay.MemoryReplayStore`, so a token accepted by node
A is refused as a replay (RG4012E) by node B. One command does the work atomically:
``SET <prefix><sha256(iss NUL jti)> 1 NX PXAT <(exp + clock_skew) in ms>``: it succeeds only
for the first use, and Redis forgets the key once the token could no longer be valid anyway.

When Redis cannot be reached, :meth:`RedisReplayStore.first_use` raises
:class:`ReplayStoreUnavailable` and the verifier applies the definition's
``replay_unavailable``: ``"refuse"`` (the default) refuses with RG8501E and status 503,
``"allow"`` accepts with an RG8502W warning in the trace (:func:`unavailable_outcome`). The
store then stops trying for ``retry_interval`` seconds, so an outage costs one connection
attempt per interval rather than one per request, and reports itself once (RG8503W) and its
recovery once (RG8504I). A command is never retried: a ``SET NX`` that reached Redis before
the connection broke would, retried, report the token's own first use as a replay.

Without the ``redis`` package (the ``redis`` extra) a ``[replay] url`` is a configuration
problem, reported when the service starts.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from realmgate.configlines import LineMap
from realmgate.configmodel import ClientDefinition, Config
from realmgate.configvalues import Problems, Source, TableReader
from realmgate.errors import ConfigError, RealmgateError, TokenRefused
from realmgate.trace import Trace

if TYPE_CHECKING:
    import redis

log = logging.getLogger("realmgate.replay")

DEFAULT_KEY_PREFIX = "realmgate:replay:"
DEFAULT_TIMEOUT = 0.5
DEFAULT_RETRY_INTERVAL = 1.0
REPLAY_KEYS = ("url", "key_prefix", "timeout", "retry_interval")
SCHEMES = ("redis", "rediss", "unix")


class ReplayStoreUnavailable(Exception):
    """The shared replay store cannot answer; ``store`` names it without credentials."""

    def __init__(self, store: str, detail: str) -> None:
        super().__init__(f"{store}: {detail}")
        self.store = store
        self.detail = detail


class ReplayUnavailable(TokenRefused):
    """RG8501E: refused because replay protection cannot be checked (HTTP 503)."""


@dataclass(frozen=True, slots=True)
class ReplaySettings:
    url: str | None = None
    key_prefix: str = DEFAULT_KEY_PREFIX
    timeout: float = DEFAULT_TIMEOUT
    retry_interval: float = DEFAULT_RETRY_INTERVAL


def describe_url(url: str) -> str:
    """``redis://host:port/db`` without user or password (for messages and readiness)."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return f"unix://{parts.path}"
    host = parts.hostname or "localhost"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


class RedisReplayStore:
    """A :class:`~realmgate.replay.ReplayStore` in Redis. Thread-safe (redis-py's pool)."""

    def __init__(
        self,
        url: str,
        *,
        key_prefix: str = DEFAULT_KEY_PREFIX,
        timeout: float = DEFAULT_TIMEOUT,
        retry_interval: float = DEFAULT_RETRY_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self.target = describe_url(url)
        self.key_prefix = key_prefix
        self._retry_interval = retry_interval
        self._clock = clock
        self._lock = threading.Lock()
        self._retry_at = 0.0
        self._failure: str | None = None
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self.client: redis.Redis = redis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),  # never retry a SET NX: see the module docstring
        )

    def __repr__(self) -> str:
        return f"RedisReplayStore({self.target!r}, key_prefix={self.key_prefix!r})"

    def key(self, key: str) -> str:
        """The Redis key for an (iss, jti) key: fixed length, whatever the token carries."""
        return self.key_prefix + hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()

    def first_use(self, key: str, expires_at: float) -> bool:
        failure = self._failure
        if failure is not None and self._clock() < self._retry_at:
            raise ReplayStoreUnavailable(self.target, failure)
        try:
            stored = self.client.set(
                self.key(key), b"1", nx=True, pxat=max(1, int(expires_at * 1000))
            )
        except self._errors as exc:
            raise ReplayStoreUnavailable(self.target, self._failed(exc)) from None
        self._recovered()
        return bool(stored)

    def ping(self) -> tuple[bool, str]:
        """Ask Redis now (readiness); updates the outage state like a request would."""
        try:
            self.client.ping()
        except self._errors as exc:
            return False, self._failed(exc)
        self._recovered()
        return True, "answering"

    @property
    def failure(self) -> str | None:
        """Why the last attempt failed, or None while Redis answers."""
        return self._failure

    def _failed(self, exc: BaseException) -> str:
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200].rstrip(".")
        with self._lock:
            first = self._failure is None
            self._failure = detail
            self._retry_at = self._clock() + self._retry_interval
        if first:
            log.warning("%s", RealmgateError("RG8503W", store=self.target, detail=detail))
        return detail

    def _recovered(self) -> None:
        if self._failure is None:
            return
        with self._lock:
            was, self._failure = self._failure, None
        if was is not None:
            log.info("%s", RealmgateError("RG8504I", store=self.target))

    def close(self) -> None:
        self.client.close()


def unavailable_outcome(
    definition: ClientDefinition, iss: str, jti: str, exc: ReplayStoreUnavailable, trace: Trace
) -> bool:
    """The definition's ``replay_unavailable`` applied: True (accept, with a warning in the
    trace) for ``"allow"``; otherwise raise :class:`ReplayUnavailable` (RG8501E)."""
    values = {"store": exc.store, "detail": exc.detail, "jti": jti, "iss": iss}
    if definition.replay_unavailable == "allow":
        warning = RealmgateError("RG8502W", client=definition.id, **values)
        trace.add("claims", "jti", "info", message_id="RG8502W", warning=warning.text)
        return True
    trace.add("claims", "jti", "fail", jti=jti, replay_store=exc.store, unavailable=exc.detail)
    raise ReplayUnavailable("RG8501E", client=definition.id, **values)


# -- the [replay] table ------------------------------------------------------------------------
def _locator(config: Config) -> Callable[[str | None], tuple[Source, int]]:
    """file:line of a [replay] key: the first configuration file that sets it wins, as in
    ``realmgate.config`` (an including file before the files it includes)."""
    sources: list[Source] = []
    for rank, name in enumerate(list(config.files) or [config.path]):
        path = Path(name)
        if path.suffix != ".toml":
            continue
        try:
            text = path.read_text(encoding="utf-8")
            tomllib.loads(text)
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            continue
        sources.append(Source(config.path if rank == 0 else name, path.parent, LineMap(text), rank))
    if not sources:
        sources.append(Source(config.path, Path(config.path).parent, LineMap(""), 0))

    def locate(key: str | None) -> tuple[Source, int]:
        for source in sources:
            span = source.lines.table("replay")
            if key is not None and key in span.keys:
                return source, span.keys[key]
        for source in sources:
            if any(s.path == ("replay",) for s in source.lines.spans):
                return source, source.lines.table("replay").line
        return sources[0], 1

    return locate


def replay_settings(config: Config) -> ReplaySettings:
    """Read and check ``[replay]``; raise ConfigError listing every problem."""
    data: Mapping[str, Any] = config.sections.get("replay", {})
    if not data:
        return ReplaySettings()
    problems = Problems()
    reader = TableReader(data, "[replay]", problems, _locator(config), REPLAY_KEYS)
    url = reader.string("url")
    if url is not None and urlsplit(url).scheme not in SCHEMES:
        # The URL is not echoed: it may carry a password.
        reader.bad("url", f"expected a redis://, rediss:// or unix:// URL, found scheme "
                   f"{urlsplit(url).scheme!r}")  # fmt: skip
        url = None
    settings = ReplaySettings(
        url=url,
        key_prefix=reader.string("key_prefix", DEFAULT_KEY_PREFIX) or DEFAULT_KEY_PREFIX,
        timeout=reader.number("timeout", DEFAULT_TIMEOUT),
        retry_interval=reader.number("retry_interval", DEFAULT_RETRY_INTERVAL, positive=False),
    )
    if len(problems):
        raise ConfigError(config.path, problems.sorted())
    return settings


def open_replay_store(config: Config) -> RedisReplayStore | None:
    """The shared store ``[replay]`` configures, or None (each process keeps its own)."""
    settings = replay_settings(config)
    if settings.url is None:
        return None
    try:
        return RedisReplayStore(
            settings.url,
            key_prefix=settings.key_prefix,
            timeout=settings.timeout,
            retry_interval=settings.retry_interval,
        )
    except ImportError:
        raise RealmgateError(
            "RG8514E",
            key="url",
            detail="the shared replay store needs the redis package: "
            "pip install 'realmgate[redis]'",
        ) from None
    except ValueError as exc:  # redis-py's URL parsing; its text does not carry the password
        raise RealmgateError("RG8514E", key="url", detail=str(exc)[:200]) from None


def replay_check(store: object, config: Config) -> dict[str, Any] | None:
    """The readiness entry for the replay store, or None when no shared store is used.

    Down is not ready when some definition with ``token_reuse = false`` refuses tokens then
    (``replay_unavailable = "refuse"``); when all of them allow, the node still serves and the
    check says ``degraded``."""
    if not isinstance(store, RedisReplayStore):
        return None
    users = [d for d in config.clients if not d.token_reuse]
    ok, detail = store.ping()
    if ok:
        return {"ok": True, "status": "ok", "store": store.target, "detail": detail}
    refusing = [d.id for d in users if d.replay_unavailable != "allow"]
    return {
        "ok": not refusing,
        "status": "unavailable" if refusing else "degraded",
        "store": store.target,
        "detail": detail,
        "refusing": refusing,
        "allowing": [d.id for d in users if d.replay_unavailable == "allow"],
    }
