"""One rate-limit budget per Clever bearer token, shared by every process through Redis.

Clever limits each district token (1,200 requests a minute) whoever sends them. The client's
own pacing (``X-Ratelimit-Remaining: 0`` then wait, a 429 then wait) sees only its own answers,
so several workers on one district (a sync and LMS pushes, two pushes) would each learn the
window is used up from a 429. With a :class:`SharedBudget` the client takes one unit before each
request (an atomic Lua script), and when the window is used up, or another process met a 429,
it waits for the reset instead of sending.

The state of a token lives in one Redis hash, ``clever:ratelimit:<sha256 of the token, 24 hex>``
(never the token itself): ``limit`` (learned from ``X-Ratelimit-Limit``, else the configured
default), ``reset`` (when the current window ends, from ``X-Ratelimit-Reset`` when an answer
said so, else a guess of ``window`` seconds), ``used`` (units taken in that window, raised to
what Clever counted, ``limit - remaining``, when an answer shows more) and ``blocked`` (after a
429: send nothing before this). Times are on the caller's clock (the client's ``clock``), so a
fake clock in tests works as with the client's own pacing.

Redis not configured (the demo, SQLite tests): :func:`from_settings` gives ``None`` and the
client paces alone, as before. Redis unreachable: every call answers "go ahead" (the client's
own pacing still applies), a warning is logged once, and Redis is tried again 30 seconds later.
A request taken near a window's end may reach Clever in the next window, uncounted there until
its answer comes back, so a window can overshoot by the requests in flight (a rare 429, which
every process then waits out): close to the limit, not a 429 storm.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from typing import Any

import redis
from django.conf import settings

logger = logging.getLogger(__name__)

DEFAULT_LIMIT = 1200  # requests per window per district token (Clever's documented limit)
DEFAULT_WINDOW = 60.0  # seconds
KEY_PREFIX = "clever:ratelimit"
KEY_HASH_CHARS = 24
RETRY_REDIS_AFTER = 30.0  # seconds (monotonic) without Redis after it failed

# ARGV: now, default limit, window, ttl. Returns {1, reset} when a unit was taken, else {0, until}.
_TAKE = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'limit', 'reset', 'used', 'blocked')
local limit = tonumber(state[1]) or tonumber(ARGV[2])
local reset = tonumber(state[2])
local used = tonumber(state[3]) or 0
local blocked = tonumber(state[4]) or 0
if blocked > now then
  return {0, tostring(blocked)}
end
if reset == nil then
  reset = now + window
  used = 0
elseif reset <= now then
  reset = reset + window * (math.floor((now - reset) / window) + 1)
  used = 0
end
local taken = 0
if used < limit then
  used = used + 1
  taken = 1
end
redis.call('HSET', KEYS[1], 'reset', tostring(reset), 'used', used)
redis.call('EXPIRE', KEYS[1], ARGV[4])
return {taken, tostring(reset)}
"""

# ARGV: now, limit, remaining, reset, ttl (an answer's X-Ratelimit-* headers).
_OBSERVE = """
local now = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local remaining = tonumber(ARGV[3])
local server_reset = tonumber(ARGV[4])
redis.call('HSET', KEYS[1], 'limit', limit)
if server_reset > now then
  local state = redis.call('HMGET', KEYS[1], 'reset', 'used')
  local reset = tonumber(state[1])
  local used = tonumber(state[2]) or 0
  local counted = math.max(limit - remaining, 0)
  if reset == nil or reset <= now then
    used = counted
  else
    used = math.max(used, counted)
  end
  redis.call('HSET', KEYS[1], 'reset', ARGV[4], 'used', used)
end
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""

# ARGV: until, limit ('' when unknown), ttl. A 429: nobody sends before ``until``.
_BLOCK = """
local blocked = tonumber(redis.call('HGET', KEYS[1], 'blocked')) or 0
if tonumber(ARGV[1]) > blocked then
  redis.call('HSET', KEYS[1], 'blocked', ARGV[1])
end
if ARGV[2] ~= '' then
  redis.call('HSET', KEYS[1], 'limit', ARGV[2])
end
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""


def token_key(token: str, prefix: str = KEY_PREFIX) -> str:
    """The Redis key of a token's budget: a truncated SHA-256 of the token, never the token."""
    digest = hashlib.sha256(token.encode()).hexdigest()[:KEY_HASH_CHARS]
    return f"{prefix}:{digest}"


class SharedBudget:
    """A per-token request budget in Redis (see the module docstring).

    ``connection`` (a ``redis.Redis``) or ``url`` says where; ``limit`` requests per ``window``
    seconds is what a token may send until Clever's headers say otherwise. Safe to share
    between threads; one per process is enough (:func:`from_settings`).
    """

    def __init__(
        self,
        url: str = "",
        *,
        connection: redis.Redis | None = None,
        limit: int = DEFAULT_LIMIT,
        window: float = DEFAULT_WINDOW,
        prefix: str = KEY_PREFIX,
    ):
        if connection is None:
            if not url:
                raise ValueError("a shared rate-limit budget needs a Redis URL or connection")
            connection = redis.Redis.from_url(url, socket_connect_timeout=1.0, socket_timeout=1.0)
        if limit < 0 or window <= 0:
            raise ValueError("the rate limit cannot be negative and its window must be positive")
        self.redis = connection
        self.limit = int(limit)
        self.window = float(window)
        self.prefix = prefix
        self.ttl = int(max(3600.0, self.window * 2))
        self._take = connection.register_script(_TAKE)
        self._observe = connection.register_script(_OBSERVE)
        self._block = connection.register_script(_BLOCK)
        self._down_until = 0.0  # time.monotonic(): Redis failed, leave it alone until then
        self._warned = False

    def __repr__(self) -> str:
        return f"<SharedBudget {self.limit}/{self.window:g}s prefix={self.prefix}>"

    def key(self, token: str) -> str:
        return token_key(token, self.prefix)

    def take(self, token: str, now: float) -> float | None:
        """Take one request for ``token``: ``None`` when taken (or Redis is unavailable: go
        ahead), else the time (on the caller's clock) to wait for before asking again."""
        answer = self._run(self._take, token, now, self.limit, self.window, self.ttl)
        if answer is None:
            return None
        taken, until = answer
        return None if int(taken) else float(until)

    def observe(self, token: str, now: float, *, limit: int, remaining: int, reset_at: float) -> None:
        """An answer's ``X-Ratelimit-*`` headers, shared: the limit, and what Clever counted."""
        self._run(self._observe, token, now, limit, remaining, reset_at, self.ttl)

    def block(self, token: str, until: float, *, limit: int | None = None) -> None:
        """Clever answered 429: every process waits until ``until`` before sending again."""
        self._run(self._block, token, until, "" if limit is None else limit, self.ttl)

    def _run(self, script: Any, token: str, *args: Any) -> Any:
        if self._down_until and time.monotonic() < self._down_until:
            return None
        try:
            answer = script(keys=[self.key(token)], args=[_arg(value) for value in args])
        except redis.RedisError as exc:
            self._down_until = time.monotonic() + RETRY_REDIS_AFTER
            if not self._warned:
                self._warned = True
                logger.warning(
                    "the shared Clever rate-limit budget is unavailable (%s); each client paces "
                    "itself until Redis answers again",
                    type(exc).__name__,
                )
            return None
        if self._down_until:
            self._down_until = 0.0
            logger.info("the shared Clever rate-limit budget is available again")
        return answer


def _arg(value: Any) -> str | int:
    return repr(float(value)) if isinstance(value, float) else value


_budgets: dict[tuple[str, int, float], SharedBudget] = {}
_lock = threading.Lock()
_warned_no_url = False


def from_settings() -> SharedBudget | None:
    """The process's shared budget as the settings ask (``CLEVER_SHARED_RATE_LIMIT``, on by
    default when ``REDIS_URL`` is set; ``CLEVER_RATE_LIMIT_DEFAULT`` requests per
    ``CLEVER_RATE_LIMIT_WINDOW`` seconds until Clever says otherwise), or ``None``."""
    global _warned_no_url
    url = getattr(settings, "REDIS_URL", "") or ""
    enabled = getattr(settings, "CLEVER_SHARED_RATE_LIMIT", None)
    if not (bool(url) if enabled is None else enabled):
        return None
    if not url:
        if not _warned_no_url:
            _warned_no_url = True
            logger.warning("CLEVER_SHARED_RATE_LIMIT is on but REDIS_URL is not set: clients pace alone")
        return None
    limit = int(getattr(settings, "CLEVER_RATE_LIMIT_DEFAULT", DEFAULT_LIMIT))
    window = float(getattr(settings, "CLEVER_RATE_LIMIT_WINDOW", DEFAULT_WINDOW))
    with _lock:
        budget = _budgets.get((url, limit, window))
        if budget is None:
            budget = _budgets[(url, limit, window)] = SharedBudget(url, limit=limit, window=window)
        return budget
