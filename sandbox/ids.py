"""Clever-style IDs: 24 hex characters (a MongoDB ObjectID), ascending with creation.

An ObjectID is a 4-byte big-endian timestamp, 5 random bytes and a 3-byte counter. Sorting the
hex strings sorts by creation time, which is the order Clever's lists and events use.
"""

import itertools
import os
import random
import threading
import time

_lock = threading.Lock()
_counter = itertools.count(random.SystemRandom().randrange(1 << 24))
_process_random = os.urandom(5).hex()
_last = ""


def new_id(now: float | None = None) -> str:
    """A fresh ID, strictly greater than every ID this process made before."""
    global _last
    with _lock:
        seconds = int(now if now is not None else time.time())
        candidate = f"{seconds:08x}{_process_random}{next(_counter) % (1 << 24):06x}"
        if candidate <= _last:
            # The counter wrapped inside one second, or the clock went back: step past the last.
            candidate = f"{int(_last, 16) + 1:024x}"
        _last = candidate
        return candidate


class SeededIds:
    """Deterministic ascending IDs for generated data: the same seed gives the same IDs."""

    def __init__(self, seed: int, start: int):
        self._random = random.Random(seed)
        self._seconds = start
        self._machine = self._random.getrandbits(40)
        self._counter = self._random.getrandbits(12)

    def next(self) -> str:
        self._counter += 1
        if self._counter >= 1 << 24:
            self._counter = 0
            self._seconds += 1
        return f"{self._seconds:08x}{self._machine:010x}{self._counter:06x}"


def is_clever_id(value: str) -> bool:
    return len(value) == 24 and all(c in "0123456789abcdef" for c in value)
