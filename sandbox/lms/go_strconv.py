"""Go's ``strconv`` as its error texts show it: quoting (``strconv.Quote``) and ``ParseInt``."""

import re

from .errors import bad

INT64_RANGE = (-(1 << 63), (1 << 63) - 1)

_SIMPLE_ESCAPES = {
    7: "\\a",
    8: "\\b",
    12: "\\f",
    10: "\\n",
    13: "\\r",
    9: "\\t",
    11: "\\v",
    0x5C: "\\\\",
    0x22: '\\"',
}


def quote_rune(r: int) -> str:
    """The inside of Go's ``strconv.Quote(string(rune(r)))``."""
    if r in _SIMPLE_ESCAPES:
        return _SIMPLE_ESCAPES[r]
    ch = chr(r)
    if ch.isprintable():
        return ch
    if r < 0x20 or r == 0x7F:
        return f"\\x{r:02x}"
    return f"\\u{r:04x}"


def quote(text: str) -> str:
    """Go's ``strconv.Quote(text)``."""
    return '"' + "".join(quote_rune(ord(ch)) for ch in text) + '"'


def parse_int64(text: str) -> int:
    """Go's ``strconv.ParseInt(text, 10, 64)``, refusing with Go's error text."""
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        raise bad(f"strconv.ParseInt: parsing {quote(text)}: invalid syntax")
    number = int(text)
    if not INT64_RANGE[0] <= number <= INT64_RANGE[1]:
        raise bad(f"strconv.ParseInt: parsing {quote(text)}: value out of range")
    return number
