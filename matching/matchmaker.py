"""Clever Matchmaker's CSV files: what we send (``app.*`` columns) and what comes back.

The contract (from Clever's onboarding guide, as summarized in docs/matching.md; Clever
publishes no schema, so it is NOT VERIFIED against a real Matchmaker file): we send one row per
product person with ``app.*`` columns and a unique internal ID in ``app.id``; Matchmaker
returns rows with the ``app.*`` columns, the ``clever.*`` columns of the Clever record it chose
(``clever.id`` is the Clever user ID) and ``matchmaker_results``, one of ``RESULTS``.

Reading is strict and all-or-nothing: a file that is not UTF-8, lacks a required column, has a
row of the wrong width, an unknown result, a missing ID where the result needs one, or the same
ID twice yields every problem with its line number, and the caller applies nothing.

Values in these files may come from a district's SIS through Clever, so cells are written and read
through ``clever.csvsafe``: a cell that would run as a spreadsheet formula is written with a
leading apostrophe, and reading gives back exactly the value that was written.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from clever import csvsafe
from core.errors import AppError

MATCH = "match"
APP_NO_MATCH = "from app, no match"
APP_DUPLICATE = "from app, duplicate"
CLEVER_NO_MATCH = "from Clever, no match"
CLEVER_DUPLICATE = "from Clever, duplicate"
RESULTS = (MATCH, APP_NO_MATCH, APP_DUPLICATE, CLEVER_NO_MATCH, CLEVER_DUPLICATE)
_RESULTS_BY_KEY = {result.lower(): result for result in RESULTS}
# Which IDs a row of each result must carry.
_NEEDS_APP_ID = {MATCH, APP_NO_MATCH, APP_DUPLICATE}
_NEEDS_CLEVER_ID = {MATCH, CLEVER_NO_MATCH, CLEVER_DUPLICATE}

REQUIRED_COLUMNS = ("app.id", "clever.id", "matchmaker_results")
# The export's columns, in order: every field Matchmaker can use to find a person.
EXPORT_COLUMNS = (
    "app.id",
    "app.role",
    "app.first_name",
    "app.last_name",
    "app.email",
    "app.dob",
    "app.grade",
    "app.sis_id",
    "app.student_number",
    "app.state_id",
    "app.teacher_number",
    "app.staff_id",
    "app.school_name",
    "app.school_nces_id",
    "app.school_state_id",
)


class MatchmakerFileError(AppError, ValueError):
    """The file cannot be used; ``problems`` lists each one with its line number."""

    problems: list[str]

    def __init__(self, problems: list[str]):
        shown = problems[:20]
        more = f"\n... and {len(problems) - len(shown)} more" if len(problems) > len(shown) else ""
        super().__init__(
            "The Matchmaker file was not imported (nothing changed):\n"
            + "\n".join(f"- {p}" for p in shown)
            + more,
            problems=problems,
        )


@dataclass(frozen=True)
class ResultRow:
    line: int
    result: str
    app_id: str
    clever_id: str


def write_csv(rows: Iterable[dict[str, str]], stream: io.TextIOBase, columns: Iterable[str]) -> int:
    """Write rows as RFC 4180 CSV (CRLF line ends, quotes where needed, formula cells
    neutralized); the number written."""
    writer = csvsafe.DictWriter(stream, fieldnames=list(columns), lineterminator="\r\n", extrasaction="raise")
    writer.writeheader()
    rows = list(rows)
    writer.writerows(rows)
    return len(rows)


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise MatchmakerFileError(
            [f"line {line}: the file is not UTF-8 (byte 0x{data[exc.start]:02x}); save it as UTF-8 CSV"]
        ) from None


def read_results(data: bytes) -> list[ResultRow]:
    """Parse and check Matchmaker's output; raises ``MatchmakerFileError`` with every problem."""
    text = _decode(data)
    reader = csvsafe.Reader(io.StringIO(text, newline=""), strict=True)
    header = _header(reader)
    index = {name: header.index(name) for name in REQUIRED_COLUMNS}
    rows: list[ResultRow] = []
    problems: list[str] = []
    try:
        for values in reader:
            if not any(value.strip() for value in values):
                continue
            row = _result_row(values, line=reader.line_num, width=len(header), index=index)
            if isinstance(row, ResultRow):
                rows.append(row)
            else:
                problems.append(row)
    except csv.Error as exc:
        problems.append(f"line {reader.line_num}: {exc}")
    problems.extend(_duplicates(rows))
    if problems:
        raise MatchmakerFileError(problems)
    return rows


def _header(reader) -> list[str]:
    """The column names; ``MatchmakerFileError`` when the file is empty, a required column is
    missing or a name is repeated."""
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        raise MatchmakerFileError(["line 1: the file is empty"]) from None
    except csv.Error as exc:
        raise MatchmakerFileError([f"line 1: {exc}"]) from None
    problems = []
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    repeated = sorted({name for name in header if header.count(name) > 1})
    if missing:
        problems.append(f"line 1: missing column(s) {', '.join(missing)} (the file has: {', '.join(header)})")
    if repeated:
        problems.append(f"line 1: column(s) named twice: {', '.join(repeated)}")
    if problems:
        raise MatchmakerFileError(problems)
    return header


def _result_row(values: list[str], *, line: int, width: int, index: dict[str, int]) -> ResultRow | str:
    """One row of results, or the problem with it (in words, with its line number)."""
    if len(values) != width:
        return f"line {line}: {len(values)} fields, the header has {width}"
    raw_result = values[index["matchmaker_results"]].strip()
    result = _RESULTS_BY_KEY.get(" ".join(raw_result.lower().split()))
    if result is None:
        return (
            f"line {line}: unknown matchmaker_results {raw_result!r} (expected one of: {'; '.join(RESULTS)})"
        )
    row = ResultRow(
        line=line,
        result=result,
        app_id=values[index["app.id"]].strip(),
        clever_id=values[index["clever.id"]].strip(),
    )
    if result in _NEEDS_APP_ID and not row.app_id:
        return f"line {line}: {result!r} without an app.id"
    if result in _NEEDS_CLEVER_ID and not row.clever_id:
        return f"line {line}: {result!r} without a clever.id"
    return row


def _duplicates(rows: list[ResultRow]) -> list[str]:
    """The same product record twice, or one Clever record matched twice."""
    lines_by_app_id: dict[str, list[int]] = defaultdict(list)
    lines_by_clever_id: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        if row.result in _NEEDS_APP_ID:
            lines_by_app_id[row.app_id].append(row.line)
        if row.result == MATCH:
            lines_by_clever_id[row.clever_id].append(row.line)
    problems = [
        f"lines {', '.join(map(str, lines))}: app.id {app_id} appears more than once"
        for app_id, lines in lines_by_app_id.items()
        if len(lines) > 1
    ]
    problems += [
        f"lines {', '.join(map(str, lines))}: clever.id {clever_id} is matched more than once"
        for clever_id, lines in lines_by_clever_id.items()
        if len(lines) > 1
    ]
    return problems
