"""The HTTP every picture provider shares: a client, rate limits, and size-bounded downloads.

`new_client()` is an httpx client with timeouts and our User-Agent (some CDNs refuse the
library's). `get_json` asks a provider's API and turns every way it can fail into
`SourceUnavailable` with one plain sentence: connection errors and timeouts, 5xx, a refused key
(never quoted), and 429 — which waits and asks again only when the wait the answer names is
short (`RateLimits.max_wait`, 2 s by default), so a search never stalls a draft; a longer wait
means "use the next source". The wait is read from `Retry-After` (seconds or an HTTP date),
else `X-RateLimit-Reset`: Pexels sends a UNIX time there, Pixabay the seconds left (header
names are case-blind, so a value above 10^9 is taken as a time, anything less as seconds).

Answers can be kept in a `SearchCache` (`cache_from_env`: NOVACAST_STOCK_CACHE_SECONDS, a day
by default, 0 turns it off): the same search within a day costs no request and no quota.

`download_to` streams a file to disk with a byte cap (refused up front by Content-Length and
again while streaming, so a lying or missing length cannot get past it) and a time cap,
written to a temporary name beside the target and renamed into place, so a reader never sees
half a file.
Only http and https addresses are fetched. `fetch_bytes` is the same for small things
(thumbnails) kept in memory.
"""

from __future__ import annotations

import contextlib
import email.utils
import functools
import hashlib
import logging
import os
import ssl
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Self, TypeVar
from urllib.parse import urlsplit

import httpx

from pipeline.media.model import (
    Candidate,
    MediaKind,
    MediaQuery,
    MediaRefused,
    SourceUnavailable,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

USER_AGENT = "NOVACAST/1.0 (+short videos from a chat)"
TIMEOUT = httpx.Timeout(15.0, connect=5.0)
EPOCH_THRESHOLD = 1_000_000_000
"""A rate-limit reset above this is a UNIX time (Pexels); below, seconds from now (Pixabay)."""
UNKNOWN_WAIT = 1.0
"""How long a 429 that names no wait is assumed to mean."""
CHUNK = 64 * 1024
DAY = 86400.0
DOWNLOAD_SECONDS = 300.0
"""A download taking longer than this is given up (read timeouts alone never end a drip)."""


def new_client(timeout: httpx.Timeout = TIMEOUT) -> httpx.Client:
    """A client for provider APIs and their media: timeouts, redirects followed (media links
    redirect to CDNs), our User-Agent."""
    return httpx.Client(timeout=timeout, follow_redirects=True, max_redirects=5,
                        headers={"User-Agent": USER_AGENT}, verify=_tls())


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context per process: loading the certificates takes ~0.1 s, a client per call
    must not pay it each time (httpx's own, so SSL_CERT_FILE is honoured as usual)."""
    return httpx.create_ssl_context()


@dataclass(frozen=True)
class RateLimits:
    """How a 429 is honoured: wait and ask again when the wait is at most `max_wait` seconds,
    up to `retries` times; otherwise give up on this source at once."""

    max_wait: float = 2.0
    retries: int = 2


DEFAULT_LIMITS = RateLimits()


def wait_seconds(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """How long a 429 answer asks to wait, from its headers; None when it does not say."""
    now = time.time() if now is None else now
    retry_after = headers.get("retry-after", "").strip()
    if retry_after:
        with contextlib.suppress(ValueError):
            return max(0.0, float(retry_after))
        with contextlib.suppress(TypeError, ValueError):
            return max(0.0, email.utils.parsedate_to_datetime(retry_after).timestamp() - now)
    reset = headers.get("x-ratelimit-reset", "").strip()
    with contextlib.suppress(ValueError):
        value = float(reset)
        return max(0.0, value - now if value > EPOCH_THRESHOLD else value)
    return None


class SearchCache:
    """Answers kept for `seconds` (Pixabay asks for 24 hours, Pexels suggests it), at most
    `size` of them, least recently used out first; shared by a process's sources."""

    def __init__(self, seconds: float, size: int = 512) -> None:
        self.seconds, self.size = seconds, size
        self._kept: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(url: str, params: Mapping[str, str | int] | None,
            headers: Mapping[str, str] | None) -> str:
        """A digest of everything that shapes the answer (the credential included, unkept)."""
        parts = [url, *sorted(f"{k}={v}" for k, v in (params or {}).items()),
                 *sorted(f"{k}:{v}" for k, v in (headers or {}).items())]
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()

    def get(self, key: str) -> Any | None:
        with self._lock:
            kept = self._kept.get(key)
            if kept is None or kept[0] < time.monotonic():
                self._kept.pop(key, None)
                return None
            self._kept.move_to_end(key)
            return kept[1]

    def put(self, key: str, value: Any) -> None:
        with self._lock:
            self._kept[key] = (time.monotonic() + self.seconds, value)
            self._kept.move_to_end(key)
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)


_SHARED: dict[float, SearchCache] = {}


def cache_from_env(environ: Mapping[str, str]) -> SearchCache | None:
    """The process's search cache for NOVACAST_STOCK_CACHE_SECONDS (default a day, also when
    the value is not a number); None when it is 0."""
    raw = environ.get("NOVACAST_STOCK_CACHE_SECONDS", "").strip()
    try:
        seconds = float(raw) if raw else DAY
    except ValueError:
        log.warning("NOVACAST_STOCK_CACHE_SECONDS is not a number of seconds; using a day")
        seconds = DAY
    if seconds <= 0:
        return None
    return _SHARED.setdefault(seconds, SearchCache(seconds))


def get_json(
    client: httpx.Client,
    url: str,
    *,
    label: str,
    params: Mapping[str, str | int] | None = None,
    headers: Mapping[str, str] | None = None,
    limits: RateLimits = DEFAULT_LIMITS,
    cache: SearchCache | None = None,
) -> Any:
    """GET `url` and return its JSON (from `cache` when it has it); `label` names the service
    in messages ("Pexels")."""
    key = SearchCache.key(url, params, headers) if cache is not None else ""
    kept = cache.get(key) if cache is not None else None
    if kept is not None:
        return kept
    for attempt in range(limits.retries + 1):
        response = _send(client, url, label, params, headers)
        if response.status_code != 429:
            body = _json_of(response, label)
            if cache is not None:
                cache.put(key, body)
            return body
        wait = wait_seconds(response.headers)
        wait = UNKNOWN_WAIT if wait is None else wait
        if wait > limits.max_wait or attempt == limits.retries:
            break
        time.sleep(wait)
    raise SourceUnavailable(f"{label} is limiting requests right now, so another source is used.")


def _send(
    client: httpx.Client,
    url: str,
    label: str,
    params: Mapping[str, str | int] | None,
    headers: Mapping[str, str] | None,
) -> httpx.Response:
    try:
        return client.get(url, params=params, headers=headers)
    except httpx.TimeoutException:
        raise SourceUnavailable(f"{label} did not answer in time.") from None
    except httpx.HTTPError:
        raise SourceUnavailable(f"{label} could not be reached.") from None


def _json_of(response: httpx.Response, label: str) -> Any:
    status = response.status_code
    if status in (401, 403) or (status == 400 and "api key" in response.text.lower()):
        raise SourceUnavailable(f"{label} did not accept the API key, so another source is used.")
    if status >= 500:
        raise SourceUnavailable(f"{label} is having trouble right now.")
    if status != 200:
        raise SourceUnavailable(f"{label} could not answer this search (error {status}).")
    try:
        return response.json()
    except ValueError:
        raise SourceUnavailable(f"{label} sent an answer that could not be read.") from None


def mapped(convert: Callable[[dict[str, Any]], T | None], items: Iterable[Any]) -> list[T]:
    """`convert` applied to each dict of an answer's list; an item it cannot read (a missing
    or mistyped field) is left out rather than failing the whole search."""
    out: list[T] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        try:
            converted = convert(item)
        except (KeyError, TypeError, ValueError):
            log.info("left out an unreadable item of a search answer")
            continue
        if converted is not None:
            out.append(converted)
    return out


# --- downloads ---------------------------------------------------------------------------------


def _checked_url(url: str) -> str:
    if urlsplit(url).scheme not in ("http", "https"):
        raise MediaRefused("That picture's address is not a web address, so it was not fetched.")
    return url


def _megabytes(count: int) -> str:
    return f"{count / 1_000_000:.0f} MB" if count >= 1_000_000 else f"{count // 1000} kB"


def _too_big(max_bytes: int) -> MediaRefused:
    return MediaRefused(f"That file is larger than the {_megabytes(max_bytes)} limit.")


@contextlib.contextmanager
def _stream(
    client: httpx.Client, url: str, max_bytes: int, label: str, max_seconds: float
) -> Iterator[Iterator[bytes]]:
    """The body of `url` in chunks, refused past `max_bytes` or `max_seconds`; failures in
    plain words."""
    deadline = time.monotonic() + max_seconds
    try:
        with client.stream("GET", _checked_url(url)) as response:
            _check_response(response, max_bytes, label)
            yield _bounded(response.iter_bytes(CHUNK), max_bytes, deadline)
    except (httpx.TimeoutException, _Late):
        raise SourceUnavailable(f"{label} did not send the file in time.") from None
    except httpx.HTTPError:
        raise SourceUnavailable(f"The file could not be fetched from {label}.") from None


def _check_response(response: httpx.Response, max_bytes: int, label: str) -> None:
    status = response.status_code
    if status in (404, 410):
        raise MediaRefused(f"The file's link at {label} no longer works.")
    if status == 429 or status >= 500:
        raise SourceUnavailable(f"{label} could not send the file right now.")
    if status != 200:
        raise MediaRefused(f"{label} refused to send the file (error {status}).")
    length = response.headers.get("content-length", "")
    if length.isdigit() and int(length) > max_bytes:
        raise _too_big(max_bytes)


class _Late(Exception):
    """A download ran past its time (a server dripping bytes never times out a read)."""


def _bounded(chunks: Iterator[bytes], max_bytes: int, deadline: float) -> Iterator[bytes]:
    received = 0
    for chunk in chunks:
        received += len(chunk)
        if received > max_bytes:
            raise _too_big(max_bytes)
        if time.monotonic() > deadline:
            raise _Late
        yield chunk


def download_to(
    url: str,
    into: Path,
    max_bytes: int,
    *,
    client: httpx.Client | None = None,
    label: str = "the picture source",
    max_seconds: float = DOWNLOAD_SECONDS,
) -> Path:
    """Stream `url` into the file `into` (at most `max_bytes`, within `max_seconds`),
    atomically; return `into`."""
    into.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{into.name}.", suffix=".part", dir=into.parent)
    try:
        with os.fdopen(handle, "wb") as out, session(client) as http, \
                _stream(http, url, max_bytes, label, max_seconds) as chunks:
            for chunk in chunks:
                out.write(chunk)
        Path(temporary).replace(into)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return into


def fetch_bytes(
    url: str,
    max_bytes: int,
    *,
    client: httpx.Client | None = None,
    label: str = "the picture source",
    max_seconds: float = 30.0,
) -> bytes:
    """The body of `url` (at most `max_bytes`, within `max_seconds`), e.g. a thumbnail."""
    with session(client) as http, _stream(http, url, max_bytes, label, max_seconds) as chunks:
        return b"".join(chunks)


@contextlib.contextmanager
def session(client: httpx.Client | None) -> Iterator[httpx.Client]:
    """`client` as it is (its owner closes it), or a new one closed after use."""
    if client is not None:
        yield client
        return
    with new_client() as fresh:
        yield fresh


class StockSource:
    """What a stock provider's source shares: its key and base URL (from the environment), a
    client per call unless one is given, the search cache, and size-bounded downloads.

    A subclass names itself (`name`, `label`, the two variables and the default URL) and
    maps its answers to candidates in `search`."""

    name: str
    label: ClassVar[str]
    key_env: ClassVar[str]
    url_env: ClassVar[str]
    default_url: ClassVar[str]

    def __init__(
        self,
        api_key: str,
        base_url: str | None = None,
        *,
        client: httpx.Client | None = None,
        limits: RateLimits = DEFAULT_LIMITS,
        short_side: int = 1080,
        max_bytes: int = 200_000_000,
        cache: SearchCache | None = None,
    ) -> None:
        self._key = api_key
        self.base_url = (base_url or self.default_url).rstrip("/")
        self._client = client
        """Used as it is and closed by its owner; None: a new client per search or download,
        closed after it (a source holds no socket between calls)."""
        self.limits, self.short_side, self.max_bytes = limits, short_side, max_bytes
        """`max_bytes`: the largest file downloaded (a minute of Full HD is ~30-120 MB)."""
        self.cache = cache

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.base_url!r})"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self | None:
        """A source from the key and URL variables, answers kept in the process's search
        cache (NOVACAST_STOCK_CACHE_SECONDS); None without a key."""
        env = os.environ if environ is None else environ
        key = env.get(cls.key_env, "").strip()
        if not key:
            return None
        return cls(key, env.get(cls.url_env, "").strip() or None, cache=cache_from_env(env))

    def download(self, candidate: Candidate, into: Path) -> Path:
        suffix = ".mp4" if candidate.kind is MediaKind.VIDEO else ".jpg"
        target = into / f"{self.name}-{candidate.id}{suffix}" if into.is_dir() else into
        return download_to(candidate.download_url, target, self.max_bytes,
                           client=self._client, label=self.label)

    def _session(self) -> contextlib.AbstractContextManager[httpx.Client]:
        return session(self._client)


def long_enough(candidate: Candidate, query: MediaQuery) -> bool:
    """A clip lasts the query's minimum (stills always do: they are held)."""
    return candidate.kind is not MediaKind.VIDEO or (candidate.duration or 0) >= query.min_seconds
