"""CSV cells that a spreadsheet never runs as formulas, and read back exactly as written.

What the project writes to CSV comes from Clever, that is from a district's SIS: a name such
as ``=HYPERLINK("http://evil.example","x")`` would run as a formula in the spreadsheet of
whoever opens the file (CSV or formula injection). So every CSV the project writes goes through
:class:`DictWriter`, and every one it reads through :class:`Reader`.

The rule (OWASP's, made reversible):

- A *formula cell* is one whose first character, after any leading apostrophes, is a trigger:
  OWASP's ``= + - @``, tab and carriage return (a lenient importer splits cells and rows there,
  so what follows would start a cell of its own), hence the line feed too, NUL (ASVS 5 lists
  it) and the full-width = + - @ (U+FF1D, U+FF0B, U+FF0D, U+FF20), in case a spreadsheet folds
  them to ASCII. A leading space is not a trigger, as in OWASP's rule.
- Writing prefixes a formula cell with one apostrophe, which spreadsheets take as "text".
  Every other cell is written unchanged (``O'Brien``, ``'quoted'`` and dates are not touched).
- Reading removes one leading apostrophe from a formula cell, and only from one.
- The same inside a cell, after a character some importer splits cells or rows at (``, ; |``,
  tab, CR, LF): ``Ann;=HYPERLINK(...)`` is two cells to a spreadsheet in a semicolon locale, so a
  trigger after a separator gets its apostrophe too (``Ann;'=HYPERLINK(...)``), and reading
  removes it, skipping apostrophes the same way.

Skipping leading apostrophes is what keeps the round trip exact: a value that really starts
with ``'=`` is a formula cell too, so it is written ``''=`` and read back ``'=``; a cell the
writer left alone never starts with apostrophes and then a trigger, so the reader leaves it be.
Numbers are not special: ``-5`` is written ``'-5`` and read back ``-5``.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Collection, Iterable, Iterator
from typing import Any, cast

TRIGGERS = frozenset("=+-@\t\r\n\0\uff1d\uff0b\uff0d\uff20")
_TRIGGER_CLASS = "[" + re.escape("".join(sorted(TRIGGERS))) + "]"
# A separator some importer splits at, then apostrophes, then a trigger (not consumed).
_INNER = re.compile(r"([,;|\t\r\n])('*)(?=" + _TRIGGER_CLASS + ")")
_INNER_NEUTRALIZED = re.compile(r"([,;|\t\r\n])'('*)(?=" + _TRIGGER_CLASS + ")")


def _is_formula(value: str) -> bool:
    rest = value.lstrip("'")
    return bool(rest) and rest[0] in TRIGGERS


def neutralize(value: str) -> str:
    """``value`` as written to a CSV cell: a formula cell gets a leading apostrophe, and so
    does a trigger after a separator inside it."""
    value = _INNER.sub(r"\1'\2", value)
    return "'" + value if _is_formula(value) else value


def restore(cell: str) -> str:
    """The value :func:`neutralize` was given, from the cell it wrote. A cell without that
    apostrophe (from a tool that does not neutralize, say) is data as it stands."""
    cell = cell[1:] if cell.startswith("'") and _is_formula(cell) else cell
    return _INNER_NEUTRALIZED.sub(r"\1\2", cell)


class _Neutralizing:
    """A csv writer whose cells are neutralized first (``None`` and numbers as csv writes them)."""

    def __init__(self, writer: Any):
        self._writer = writer

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow([neutralize("" if cell is None else str(cell)) for cell in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


class DictWriter(csv.DictWriter):
    """``csv.DictWriter`` (same arguments) that neutralizes every cell, the header's included."""

    def __init__(self, f: Any, fieldnames: Collection[str], *args: Any, **kwargs: Any):
        super().__init__(f, fieldnames, *args, **kwargs)
        # A duck-typed stand-in for the csv module's writer (what DictWriter calls is all it has).
        self.writer = cast(Any, _Neutralizing(self.writer))


class Reader:
    """``csv.reader`` (its keyword arguments, its ``line_num``) that restores every cell."""

    def __init__(self, lines: Iterable[str], **fmtparams: Any):
        self._reader = csv.reader(lines, **fmtparams)

    def __iter__(self) -> Iterator[list[str]]:
        return self

    def __next__(self) -> list[str]:
        return [restore(cell) for cell in next(self._reader)]

    @property
    def line_num(self) -> int:
        return self._reader.line_num
