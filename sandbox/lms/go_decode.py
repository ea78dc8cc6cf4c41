"""Go's reflection-driven ``json.Decoder.Decode`` of a request body into a request model: keys
match fields case-insensitively, unknown keys are ignored, a value of the wrong JSON type is
``json: cannot unmarshal string into Go struct field AssignmentRequest.title of type
string``-style, an empty body is wag's ``request body is required, but was empty``.
"""

from __future__ import annotations

import json
import re
import struct
from dataclasses import dataclass

from .errors import bad
from .go_scanner import read_value
from .go_strconv import INT64_RANGE
from .go_time import parse_go_datetime

MSG_EMPTY_BODY = "request body is required, but was empty"

_FLOAT32_MAX = 3.4028234663852886e38


class _Num(str):
    """A JSON number, kept as its literal text (Go's errors quote it)."""


class _Obj(list):
    """A JSON object as its (key, value) pairs, in document order."""


@dataclass(frozen=True)
class GoType:
    """A type of the request models, named as Go names it in its errors."""

    kind: str  # string | enum | float32 | int64 | datetime | array | struct
    go: str
    elem: GoType | None = None
    fields: tuple[tuple[str, GoType], ...] = ()
    struct_name: str = ""


STRING = GoType("string", "string")
FLOAT32 = GoType("float32", "float32")
INT64 = GoType("int64", "int64")
DATETIME = GoType("datetime", "strfmt.DateTime")


def enum_type(name: str) -> GoType:
    return GoType("enum", f"models.{name}")


def array_of(elem: GoType) -> GoType:
    prefix = "*" if elem.kind == "struct" else ""
    return GoType("array", f"[]{prefix}{elem.go}", elem=elem)


def struct_type(name: str, fields: dict[str, GoType]) -> GoType:
    return GoType("struct", f"models.{name}", fields=tuple(fields.items()), struct_name=name)


# The JSON kind each Go kind decodes from (datetimes are checked apart: their error aborts).
_JSON_KIND_FOR = {
    "struct": "object",
    "array": "array",
    "string": "string",
    "enum": "string",
    "int64": "number",
    "float32": "number",
}


def _json_kind(value) -> str:
    if isinstance(value, _Obj):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, _Num):
        return "number"
    return "string"


def to_float32(value: float) -> float:
    """``value`` rounded to float32, printed as Go prints a float32 (shortest round trip)."""
    single = struct.unpack("<f", struct.pack("<f", value))[0]
    for digits in range(1, 10):
        text = f"{single:.{digits}g}"
        if struct.unpack("<f", struct.pack("<f", float(text)))[0] == single:
            return float(text)
    return single


class _Decoder:
    """Go's reflection-driven decode of one request model: the first hard error is raised at
    once (strfmt.DateTime's UnmarshalJSON), the first type error is kept and raised at the end."""

    def __init__(self):
        self.saved: str | None = None
        self.converters = {
            "struct": self.convert_struct,
            "array": self.convert_array,
            "string": self.convert_string,
            "enum": self.convert_string,
            "int64": self.convert_int64,
            "float32": self.convert_float32,
        }

    def type_error(self, value_desc: str, target: GoType, struct_name: str, path: list[str]):
        if self.saved is None:
            where = f"Go struct field {struct_name}.{'.'.join(path)}" if struct_name else "Go value"
            self.saved = f"json: cannot unmarshal {value_desc} into {where} of type {target.go}"

    def decode(self, value, target: GoType, struct_name: str = "", path: list[str] | None = None):
        """The Python value for ``target``; ``None`` for JSON null or a mismatched type."""
        path = path or []
        if value is None:
            return None
        kind = _json_kind(value)
        if target.kind == "datetime":
            if kind != "string":
                # strfmt.DateTime unmarshals into a Go string first; that error aborts.
                where = f"Go struct field {struct_name}.{'.'.join(path)}"
                raise bad(f"json: cannot unmarshal {kind} into {where} of type string")
            return parse_go_datetime(str(value))
        if kind != _JSON_KIND_FOR[target.kind]:
            self.type_error(kind, target, struct_name, path)
            return None
        return self.converters[target.kind](value, target, struct_name, path)

    def convert_struct(self, value: _Obj, target: GoType, struct_name: str, path: list[str]):
        return self.decode_struct(value, target, path)

    def convert_array(self, value: list, target: GoType, struct_name: str, path: list[str]):
        items = [self.decode(item, target.elem, struct_name, path) for item in value]
        zero = None if target.elem.kind == "struct" else ""
        return [zero if item is None else item for item in items]

    def convert_string(self, value: str, target: GoType, struct_name: str, path: list[str]):
        return str(value)

    def convert_int64(self, value: _Num, target: GoType, struct_name: str, path: list[str]):
        if not re.fullmatch(r"-?[0-9]+", value) or not (INT64_RANGE[0] <= int(value) <= INT64_RANGE[1]):
            self.type_error(f"number {value}", target, struct_name, path)
            return None
        return int(value)

    def convert_float32(self, value: _Num, target: GoType, struct_name: str, path: list[str]):
        number = float(value)
        if abs(number) > _FLOAT32_MAX:
            self.type_error(f"number {value}", target, struct_name, path)
            return None
        return to_float32(number)

    def decode_struct(self, obj: _Obj, target: GoType, path: list[str]) -> dict:
        fields = dict(target.fields)
        folded = {name.lower(): name for name in fields}
        out: dict = {}
        for key, value in obj:
            name = key if key in fields else folded.get(key.lower())
            if name is None:
                continue  # Go ignores unknown fields
            decoded = self.decode(value, fields[name], target.struct_name, [*path, name])
            if decoded is None:
                out.pop(name, None)
            else:
                out[name] = decoded
        return out


def decode_request(body: bytes, model: GoType) -> dict:
    """A request body decoded like Clever's wag handlers do; absent and null fields left out."""
    if len(body) == 0:
        raise bad(MSG_EMPTY_BODY)
    raw = read_value(body)
    try:
        value = json.loads(
            raw.decode("utf-8", errors="replace"),
            parse_int=_Num,
            parse_float=_Num,
            object_pairs_hook=_Obj,
        )
    except RecursionError:
        raise bad("invalid character '[' exceeded max depth") from None
    decoder = _Decoder()
    if value is None:
        return {}
    if not isinstance(value, _Obj):
        decoder.type_error(_json_kind(value), model, "", [])
        raise bad(decoder.saved or "invalid body")
    out = decoder.decode_struct(value, model, [])
    if decoder.saved:
        raise bad(decoder.saved)
    return out
