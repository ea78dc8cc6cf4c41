"""A district's API session: the district's token on a ``CleverClient``, for one sync run or one
batch of LMS pushes and pulls.

The token is looked up on first use (``district_token``). After a 401, the token is checked
again (``recheck_after_unauthorized``): a rotated token replaces the refused one, otherwise the
district is marked revoked or disconnected. The traffic is counted across every token used.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import fields
from typing import TypeVar

from clever.client import CleverClient, ClientStats
from clever.errors import AuthError
from core.errors import AppError

from .models import District
from .services import district_token, recheck_after_unauthorized

logger = logging.getLogger(__name__)

T = TypeVar("T")

STAT_NAMES = tuple(stat.name for stat in fields(ClientStats))


class TokenRefused(AppError):
    """Clever refused the district's token and no usable one was found (the message holds no
    token: it is safe to store)."""


def _add(total: ClientStats, more: dict) -> None:
    for name in STAT_NAMES:
        setattr(total, name, getattr(total, name) + more[name])


class DistrictSession:
    """The district's current token and a client for it; see the module docstring.

    ``base`` is the client the token is put on (its settings, session and clock); it also looks
    the token up. ``lms_timeout``, when given, is the timeout of each token's LMS writes."""

    def __init__(self, district: District, base: CleverClient, *, lms_timeout: float | None = None):
        self.district = district
        self.base = base
        self.lms_timeout = lms_timeout
        self.token = ""
        self.client: CleverClient | None = None
        self.rechecks = 0
        self._retired = ClientStats()  # the traffic of the tokens replaced so far
        self._base_start = base.stats.snapshot()

    def open(self) -> CleverClient:
        """The client for the district's token, looked up on first use (``NoToken`` when Clever
        lists none)."""
        if self.client is None:
            self._use(district_token(self.district, client=self.base))
        return self.client

    def _use(self, token: str) -> None:
        self.token = token
        self.client = self.base.with_token(token)
        if self.lms_timeout is not None:
            self.client.lms_timeout = self.lms_timeout

    def recheck_token(self) -> bool:
        """Clever answered 401: look the token up once more. True when a rotated token came
        back (``open`` now uses it); otherwise the next ``open`` looks the token up again."""
        self.rechecks += 1
        if self.client is not None:
            _add(self._retired, self.client.stats.snapshot())
            self.client = None
        token = recheck_after_unauthorized(self.district, rejected_token=self.token, client=self.base)
        if token:
            self._use(token)
        return bool(token)

    def call(self, fn: Callable[[CleverClient], T]) -> T:
        """``fn(client)``. The session's first 401 re-checks the token and calls ``fn`` once more
        with a rotated one; ``TokenRefused`` when there is none, or on any later 401."""
        try:
            return fn(self.open())
        except AuthError:
            if self.rechecks:
                raise TokenRefused(
                    "Clever refused the district's token (401) again after a re-check"
                ) from None
        if not self.recheck_token():
            self.district.refresh_from_db(fields=["status"])
            raise TokenRefused(
                f"Clever refused the district's token (401); the district is now {self.district.status}"
            )
        logger.info(
            "district %s: Clever answered 401; retrying with the rotated token", self.district.clever_id
        )
        try:
            return fn(self.open())
        except AuthError:
            raise TokenRefused("Clever refused the rotated token too (401)") from None

    def stats(self, *, token_lookups: bool = True) -> ClientStats:
        """The traffic so far with every token used, and the token look-ups (``/oauth/tokens``,
        sent by ``base`` since the session began) unless ``token_lookups`` is False."""
        total = ClientStats(**self._retired.snapshot())
        if self.client is not None:
            _add(total, self.client.stats.snapshot())
        if token_lookups:
            base_now = self.base.stats.snapshot()
            _add(total, {name: base_now[name] - self._base_start[name] for name in STAT_NAMES})
        return total
