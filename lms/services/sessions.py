"""The Clever side of a batch of LMS work: one client, and one ``DistrictSession`` per district
(the district's token, re-checked after a 401; its traffic counted across tokens)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.conf import settings

from clever.client import CleverClient
from districts.models import District
from districts.session import DistrictSession


def write_timeout() -> float:
    """Seconds an LMS write may take (Clever recommends 15 to 60)."""
    return min(max(float(settings.LMS_WRITE_TIMEOUT), 15.0), 60.0)


@contextmanager
def district_sessions(client: CleverClient | None) -> Iterator[Callable[[District], DistrictSession]]:
    """``session_for(district)`` on ``client`` (or on a new client, closed at the end). Work
    comes ordered by district: a district's session is kept while its assignments last, so
    requests are paced against its token's rate limit across them."""
    base = client or CleverClient(lms_timeout=write_timeout())
    current: DistrictSession | None = None

    def session_for(district: District) -> DistrictSession:
        nonlocal current
        if current is None or current.district.pk != district.pk:
            current = DistrictSession(district, base, lms_timeout=write_timeout())
        return current

    try:
        yield session_for
    finally:
        if client is None:
            base.close()
