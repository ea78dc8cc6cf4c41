"""Datetimes of request bodies as ``strfmt.DateTime`` parses them, refused with the errors of
Go's ``time.Parse`` against the RFC 3339 layout: ``parsing time "x" as
"2006-01-02T15:04:05Z07:00": cannot parse "x" as "2006"``. Clever's strfmt version tries several
layouts, so its exact text may differ.
"""

import re
from datetime import UTC, datetime, timedelta

from .errors import LmsError, bad
from .go_strconv import quote

_RFC3339 = "2006-01-02T15:04:05Z07:00"
_LOOSE_DATETIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{1,2}):([0-9]{2}):([0-9]{2})(?:[.,]([0-9]+))?"
    r"(Z|[+-][0-9]{2}:?[0-9]{2})?"
)


def _time_quote(text: str) -> str:
    """Go's ``time.quote``: ``"`` and ``\\`` escaped, non-ASCII and controls as ``\\xNN``."""
    out = []
    for ch in text:
        if ord(ch) >= 0x80 or ord(ch) < 0x20:
            out.extend(f"\\x{byte:02x}" for byte in ch.encode("utf-8", errors="replace"))
        else:
            out.append("\\" + ch if ch in '"\\' else ch)
    return '"' + "".join(out) + '"'


def _range_error(value: str, what: str) -> LmsError:
    return bad(f"parsing time {_time_quote(value)}: {what} out of range")


def _days_in(month: int, year: int) -> int:
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def _ascii_digit(text: str) -> bool:
    return text.isdigit() and text.isascii()


class _Rfc3339Walk:
    """Go's ``time.Parse(time.RFC3339, value)`` reading ``value`` one layout element at a time;
    ``rest`` is what is left to read."""

    def __init__(self, value: str):
        self.value = value
        self.rest = value

    def parse_error(self, layout_elem: str) -> LmsError:
        return bad(
            f"parsing time {_time_quote(self.value)} as {_time_quote(_RFC3339)}: "
            f"cannot parse {_time_quote(self.rest)} as {_time_quote(layout_elem)}"
        )

    def year(self) -> int:
        if len(self.rest) < 4 or not re.fullmatch(r"[+-]?[0-9]+", self.rest[:4]):
            raise self.parse_error("2006")
        year, self.rest = int(self.rest[:4]), self.rest[4:]
        return year

    def number(self, elem: str, *, fixed: bool, valid: range | None = None, what: str = "") -> int:
        """A two-digit element (one digit allowed unless ``fixed``), range-checked if ``valid``."""
        if not _ascii_digit(self.rest[:1]):
            raise self.parse_error(elem)
        width = 2 if _ascii_digit(self.rest[1:2]) else 1
        if width == 1 and fixed:
            raise self.parse_error(elem)
        number, self.rest = int(self.rest[:width]), self.rest[width:]
        if valid is not None and number not in valid:
            raise _range_error(self.value, what)
        return number

    def literal(self, char: str) -> None:
        if not self.rest.startswith(char):
            raise self.parse_error(char)
        self.rest = self.rest[1:]

    def microseconds(self) -> int:
        """An optional fraction of a second (any number of digits, truncated to microseconds)."""
        rest = self.rest
        if not (len(rest) >= 2 and rest[0] in ".," and rest[1].isdigit()):
            return 0
        digits = re.match(r"[0-9]+", rest[1:]).group(0)
        self.rest = rest[1 + len(digits) :]
        return int((digits + "000000")[:6])

    def offset_minutes(self) -> int:
        """The zone: ``Z`` or ``±hh:mm``, as minutes east of UTC."""
        if self.rest.startswith("Z"):
            self.rest = self.rest[1:]
            return 0
        zone = self.rest[:6]
        if (
            len(self.rest) < 6
            or zone[3] != ":"
            or not (re.fullmatch(r"[0-9]{2}", zone[1:3]) and re.fullmatch(r"[0-9]{2}", zone[4:6]))
        ):
            raise self.parse_error("Z07:00")
        hours, minutes = int(zone[1:3]), int(zone[4:6])
        if hours > 24:
            raise _range_error(self.value, "time zone offset hour")
        if minutes > 60:
            raise _range_error(self.value, "time zone offset minute")
        if zone[0] not in "+-":
            raise self.parse_error("Z07:00")
        self.rest = self.rest[6:]
        return (hours * 60 + minutes) * (-1 if zone[0] == "-" else 1)


def _go_rfc3339(value: str) -> datetime:
    """Go's ``time.Parse(time.RFC3339, value)``, walked element by element for its errors."""
    walk = _Rfc3339Walk(value)
    year = walk.year()
    walk.literal("-")
    month = walk.number("01", fixed=True, valid=range(1, 13), what="month")
    walk.literal("-")
    day = walk.number("02", fixed=True)
    walk.literal("T")
    hour = walk.number("15", fixed=False, valid=range(24), what="hour")
    walk.literal(":")
    minute = walk.number("04", fixed=True, valid=range(60), what="minute")
    walk.literal(":")
    second = walk.number("05", fixed=True, valid=range(60), what="second")
    micro = walk.microseconds()
    offset = walk.offset_minutes()
    if walk.rest:
        raise bad(f"parsing time {quote(value)}: extra text: {quote(walk.rest)}")
    if not 1 <= day <= _days_in(month, year):
        raise bad(f"parsing time {quote(value)}: day out of range")
    moment = datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)
    return moment - timedelta(minutes=offset)


def parse_go_datetime(value: str) -> datetime | str:
    """A datetime string as strfmt.DateTime accepts it; ``""`` stays ``""`` (treated as unset).

    Accepted: RFC 3339 with any fraction, offsets with or without a colon, and no offset at all
    (read as UTC). Errors are reported against the RFC 3339 layout.
    """
    if value == "":
        return ""
    try:
        return _go_rfc3339(value)
    except LmsError as rfc_error:
        loose = _LOOSE_DATETIME.fullmatch(value)
        if loose is None:
            raise
        year, month, day, hour, minute, second, fraction, zone = loose.groups()
        try:
            moment = datetime(
                int(year),
                int(month),
                int(day),
                int(hour),
                int(minute),
                int(second),
                int(((fraction or "") + "000000")[:6]),
                tzinfo=UTC,
            )
        except ValueError:
            raise rfc_error from None
        if zone and zone != "Z":
            digits = zone.replace(":", "")
            offset = int(digits[1:3]) * 60 + int(digits[3:5])
            moment -= timedelta(minutes=offset if digits[0] == "+" else -offset)
        return moment
