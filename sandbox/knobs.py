"""Test and demo knobs of the local Clever: rate limits, faults, slowness, its clock, and a
defect in the identity tokens it mints.

Kept in process memory (not the database) so that reading them costs nothing on the hot path
and a rolled-back test transaction cannot undo them. Tests set them through the Python API
(``KNOBS``), people through the sandbox control page. ``KNOBS.reset()`` restores the defaults.
"""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

DEFAULT_RATE_LIMIT = 1200  # requests per token per minute (Clever's documented limit)
DEFAULT_RATE_WINDOW = 60.0  # seconds; benchmarks may shrink it to run a limit in less time
# What ``identity_token_fault`` may be: each is one defect an app must refuse an identity token
# for ("" mints sound tokens). See ``sandbox.oidc``.
IDENTITY_TOKEN_FAULTS = (
    "",
    "bad_signature",
    "wrong_audience",
    "expired",
    "wrong_subject",
    "unpublished_key",
    "wrong_issuer",
)


@dataclass
class Fault:
    """Misbehave on API requests number ``on_request`` .. ``on_request + count - 1``.

    Requests are counted from when the fault was added. ``kind``:
    - ``status``: answer ``status`` (e.g. 500, 502, 503) with Clever's JSON error body;
    - ``malformed_json``: 200 with a body cut off mid-JSON;
    - ``html``: ``status`` with an HTML error page (what Clever's edge sends on some errors);
    - ``slow``: wait ``delay`` seconds (on the sandbox clock's sleep), then answer normally.
    ``path_contains`` limits the fault to matching paths (empty: any API path).
    """

    kind: str
    on_request: int = 1
    count: int = 1
    status: int = 503
    delay: float = 0.0
    path_contains: str = ""
    seen: int = 0

    def matches(self, path: str) -> bool:
        return not self.path_contains or self.path_contains in path


@dataclass
class RateDecision:
    allowed: bool
    limit: int
    remaining: int
    reset: int  # unix seconds when the window resets

    def headers(self, bucket: str) -> dict[str, str]:
        return {
            "X-Ratelimit-Bucket": bucket,
            "X-Ratelimit-Limit": str(self.limit),
            "X-Ratelimit-Remaining": str(self.remaining),
            "X-Ratelimit-Reset": str(self.reset),
        }


@dataclass
class Knobs:
    rate_limit_per_minute: int = DEFAULT_RATE_LIMIT
    # The limit applies per window of this many seconds (Clever's is one minute).
    rate_window_seconds: float = DEFAULT_RATE_WINDOW
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    faults: list[Fault] = field(default_factory=list)
    # Every identity token minted from now on has this defect (one of IDENTITY_TOKEN_FAULTS).
    identity_token_fault: str = ""
    # Count of API requests served, for figures in tests and benchmarks.
    api_requests: int = 0
    _windows: dict[str, tuple[int, int]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self._lock:
            self.rate_limit_per_minute = DEFAULT_RATE_LIMIT
            self.rate_window_seconds = DEFAULT_RATE_WINDOW
            self.clock = time.time
            self.sleep = time.sleep
            self.faults = []
            self.identity_token_fault = ""
            self.api_requests = 0
            self._windows = {}

    def add_fault(self, kind: str, **options) -> Fault:
        fault = Fault(kind=kind, **options)
        with self._lock:
            self.faults.append(fault)
        return fault

    def set_identity_token_fault(self, fault: str) -> None:
        if fault not in IDENTITY_TOKEN_FAULTS:
            raise ValueError(f"unknown identity token fault {fault!r}")
        self.identity_token_fault = fault

    def clear_faults(self) -> None:
        with self._lock:
            self.faults = []

    def take_fault(self, path: str) -> Fault | None:
        """Count one API request and return the fault it should suffer, if any."""
        with self._lock:
            self.api_requests += 1
            hit = None
            for fault in self.faults:
                if not fault.matches(path):
                    continue
                fault.seen += 1
                if hit is None and fault.on_request <= fault.seen < fault.on_request + fault.count:
                    hit = fault
            # A fault is dropped once it has fired its last time.
            self.faults = [f for f in self.faults if f.seen < f.on_request + f.count - 1]
            return hit

    def rate_limit(self, bucket: str) -> RateDecision:
        """Fixed one-minute window per bearer token, as Clever's API does (the window can be
        shrunk with ``rate_window_seconds`` so a benchmark runs a small limit quickly)."""
        now = self.clock()
        window = self.rate_window_seconds
        window_start = int(now // window * window)
        with self._lock:
            start, used = self._windows.get(bucket, (window_start, 0))
            if start != window_start:
                start, used = window_start, 0
            limit = self.rate_limit_per_minute
            allowed = used < limit
            if allowed:
                used += 1
            self._windows[bucket] = (start, used)
        return RateDecision(
            allowed=allowed, limit=limit, remaining=max(limit - used, 0), reset=int(start + window)
        )


KNOBS = Knobs()
