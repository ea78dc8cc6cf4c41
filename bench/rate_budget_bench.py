"""Several workers on one Clever token, with and without the shared rate-limit budget.

    REDIS_URL=redis://127.0.0.1:6379/5 .venv/bin/python bench/rate_budget_bench.py \\
        [--workers 4] [--requests 30] [--limit 20] [--window 2]

``--workers`` threads, each with its own ``CleverClient`` (its own session and pacing, as a
worker process has), send ``--requests`` GETs each on one token. Answers come from the sandbox's
rate-limit emulation (``sandbox.knobs.KNOBS.rate_limit``: ``--limit`` requests per ``--window``
seconds, the real clock) through a transport that skips the database, so only pacing is
measured. Run once with each client pacing alone, then with ``clever.budget.SharedBudget`` on
``REDIS_URL`` (skipped when it is not set). Prints one JSON line: per mode the 429s met, the
requests sent (429s included), the seconds taken and the most requests Clever served in one
window (never above the limit: over it, the emulation answers 429). Never part of the test run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import threading
import time
import uuid
from collections import Counter

import requests
from benchdb import setup_django
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict


class Emulated(BaseAdapter):
    """Every call answered by the sandbox's per-token rate limit, nothing else."""

    def __init__(self, served: list, lock: threading.Lock):
        super().__init__()
        self.served, self.lock = served, lock

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        from sandbox.knobs import KNOBS

        decision = KNOBS.rate_limit(request.headers["Authorization"].partition(" ")[2])
        with self.lock:
            self.served.append((decision.reset, decision.allowed))
        response = requests.Response()
        response.status_code = 200 if decision.allowed else 429
        response.headers = CaseInsensitiveDict(
            {"Content-Type": "application/json", **decision.headers(bucket="bench")}
        )
        response._content = b'{"data": []}' if decision.allowed else b'{"message": "Rate limit exceeded"}'
        response.url, response.request = request.url, request
        return response

    def close(self):
        pass


def run_mode(args, budget) -> dict:
    from clever.client import CleverClient

    token = f"bench-{uuid.uuid4().hex}"
    served: list[tuple[int, bool]] = []
    lock = threading.Lock()
    clients = [
        CleverClient(
            token,
            api_base="https://api.clever.test",
            oauth_base="https://clever.test",
            http_adapter=Emulated(served, lock),
            rate_budget=budget,
            max_retries=20,
        )
        for _ in range(args.workers)
    ]
    barrier = threading.Barrier(args.workers)

    def work(client):
        barrier.wait()
        for _ in range(args.requests):
            client.get("users")

    threads = [threading.Thread(target=work, args=(client,)) for client in clients]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    per_window = Counter(reset for reset, allowed in served if allowed)
    return {
        "429s": sum(client.stats.rate_limited for client in clients),
        "requests_sent": len(served),
        "seconds": round(time.monotonic() - started, 2),
        "most_served_in_a_window": max(per_window.values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--requests", type=int, default=30, help="per worker")
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--window", type=float, default=2.0)
    args = parser.parse_args()
    os.environ.setdefault("LOG_LEVEL", "ERROR")
    setup_django(migrate=False)

    from clever.budget import SharedBudget
    from sandbox.knobs import KNOBS

    KNOBS.rate_limit_per_minute = args.limit
    KNOBS.rate_window_seconds = args.window
    summary: dict = {"workers": args.workers, "requests": args.workers * args.requests}
    summary["limit"] = f"{args.limit} per {args.window:g}s"
    # The last window's requests go as it opens: (windows - 1) windows after the first request.
    summary["floor_seconds"] = round(
        (math.ceil(args.workers * args.requests / args.limit) - 1) * args.window, 1
    )
    summary["alone"] = run_mode(args, None)
    url = os.environ.get("REDIS_URL", "")
    if url:
        budget = SharedBudget(
            url, limit=args.limit, window=args.window, prefix=f"bench-{uuid.uuid4().hex[:8]}"
        )
        try:
            summary["shared"] = run_mode(args, budget)
        finally:
            for key in budget.redis.scan_iter(f"{budget.prefix}:*"):
                budget.redis.delete(key)
    else:
        summary["shared"] = "skipped: set REDIS_URL"
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
