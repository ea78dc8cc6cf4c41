"""Go's ``encoding/json`` scanner (a port of ``encoding/json/scanner.go``): where a body's first
JSON value ends, and the syntax errors Go gives for a body that is not JSON (``invalid character
',' looking for beginning of value``, ``unexpected EOF``, ``EOF`` for a whitespace-only body).
Text after the first JSON value is ignored, as ``json.NewDecoder(...).Decode`` does.
"""

from .errors import bad
from .go_strconv import quote_rune

_CONTINUE, _BEGIN_LITERAL, _BEGIN_OBJECT, _OBJECT_KEY, _OBJECT_VALUE, _END_OBJECT = range(6)
_BEGIN_ARRAY, _ARRAY_VALUE, _END_ARRAY, _SKIP_SPACE, _END, _ERROR = range(6, 12)
_PARSE_OBJECT_KEY, _PARSE_OBJECT_VALUE, _PARSE_ARRAY_VALUE = range(3)
_MAX_NESTING = 10_000
_HEX = b"0123456789abcdefABCDEF"
_DIGITS = b"0123456789"
_SPACE = b" \t\r\n"


def _quote_char(c: int) -> str:
    """Go's ``quoteChar``: how the scanner names the offending byte."""
    if c == 0x27:
        return "'\\''"
    if c == 0x22:
        return "'\"'"
    return "'" + quote_rune(c) + "'"


class _GoScanner:
    """encoding/json's scanner state machine; ``step`` is called once per input byte."""

    def __init__(self):
        self.step = self.begin_value
        self.parse_state: list[int] = []
        self.err: str | None = None

    def error(self, c: int, context: str) -> int:
        self.step = self.state_error
        self.err = f"invalid character {_quote_char(c)} {context}"
        return _ERROR

    def state_error(self, c: int) -> int:
        return _ERROR

    def push(self, c: int, new_state: int, success: int) -> int:
        self.parse_state.append(new_state)
        if len(self.parse_state) <= _MAX_NESTING:
            return success
        return self.error(c, "exceeded max depth")

    def pop(self) -> None:
        self.parse_state.pop()
        self.step = self.end_top if not self.parse_state else self.end_value

    def begin_value_or_empty(self, c: int) -> int:
        if c in _SPACE:
            return _SKIP_SPACE
        if c == 0x5D:  # ]
            return self.end_value(c)
        return self.begin_value(c)

    def begin_value(self, c: int) -> int:
        if c in _SPACE:
            return _SKIP_SPACE
        if c == 0x7B:  # {
            self.step = self.begin_string_or_empty
            return self.push(c, _PARSE_OBJECT_KEY, _BEGIN_OBJECT)
        if c == 0x5B:  # [
            self.step = self.begin_value_or_empty
            return self.push(c, _PARSE_ARRAY_VALUE, _BEGIN_ARRAY)
        starts = {
            0x22: self.in_string,
            0x2D: self.neg,
            0x30: self.zero,
            0x74: self.t,
            0x66: self.f,
            0x6E: self.n,
        }
        if c in starts:
            self.step = starts[c]
            return _BEGIN_LITERAL
        if 0x31 <= c <= 0x39:
            self.step = self.one
            return _BEGIN_LITERAL
        return self.error(c, "looking for beginning of value")

    def begin_string_or_empty(self, c: int) -> int:
        if c in _SPACE:
            return _SKIP_SPACE
        if c == 0x7D:  # }
            self.parse_state[-1] = _PARSE_OBJECT_VALUE
            return self.end_value(c)
        return self.begin_string(c)

    def begin_string(self, c: int) -> int:
        if c in _SPACE:
            return _SKIP_SPACE
        if c == 0x22:
            self.step = self.in_string
            return _BEGIN_LITERAL
        return self.error(c, "looking for beginning of object key string")

    def end_value(self, c: int) -> int:
        if not self.parse_state:
            self.step = self.end_top
            return self.end_top(c)
        if c in _SPACE:
            self.step = self.end_value
            return _SKIP_SPACE
        state = self.parse_state[-1]
        if state == _PARSE_OBJECT_KEY:
            if c == 0x3A:  # :
                self.parse_state[-1] = _PARSE_OBJECT_VALUE
                self.step = self.begin_value
                return _OBJECT_KEY
            return self.error(c, "after object key")
        if state == _PARSE_OBJECT_VALUE:
            if c == 0x2C:  # ,
                self.parse_state[-1] = _PARSE_OBJECT_KEY
                self.step = self.begin_string
                return _OBJECT_VALUE
            if c == 0x7D:
                self.pop()
                return _END_OBJECT
            return self.error(c, "after object key:value pair")
        if c == 0x2C:
            self.step = self.begin_value
            return _ARRAY_VALUE
        if c == 0x5D:
            self.pop()
            return _END_ARRAY
        return self.error(c, "after array element")

    def end_top(self, c: int) -> int:
        if c not in _SPACE:
            self.error(c, "after top-level value")
        return _END

    def in_string(self, c: int) -> int:
        if c == 0x22:
            self.step = self.end_value
            return _CONTINUE
        if c == 0x5C:
            self.step = self.in_string_esc
            return _CONTINUE
        if c < 0x20:
            return self.error(c, "in string literal")
        return _CONTINUE

    def in_string_esc(self, c: int) -> int:
        if c in b'bfnrt\\/"':
            self.step = self.in_string
            return _CONTINUE
        if c == 0x75:  # u
            self.step = self._esc_u(4)
            return _CONTINUE
        return self.error(c, "in string escape code")

    def _esc_u(self, remaining: int):
        def state(c: int) -> int:
            if c in _HEX:
                self.step = self.in_string if remaining == 1 else self._esc_u(remaining - 1)
                return _CONTINUE
            return self.error(c, "in \\u hexadecimal character escape")

        return state

    def neg(self, c: int) -> int:
        if c == 0x30:
            self.step = self.zero
            return _CONTINUE
        if 0x31 <= c <= 0x39:
            self.step = self.one
            return _CONTINUE
        return self.error(c, "in numeric literal")

    def one(self, c: int) -> int:
        if c in _DIGITS:
            return _CONTINUE
        return self.zero(c)

    def zero(self, c: int) -> int:
        if c == 0x2E:  # .
            self.step = self.dot
            return _CONTINUE
        if c in b"eE":
            self.step = self.exp
            return _CONTINUE
        return self.end_value(c)

    def dot(self, c: int) -> int:
        if c in _DIGITS:
            self.step = self.dot0
            return _CONTINUE
        return self.error(c, "after decimal point in numeric literal")

    def dot0(self, c: int) -> int:
        if c in _DIGITS:
            return _CONTINUE
        if c in b"eE":
            self.step = self.exp
            return _CONTINUE
        return self.end_value(c)

    def exp(self, c: int) -> int:
        if c in b"+-":
            self.step = self.exp_sign
            return _CONTINUE
        return self.exp_sign(c)

    def exp_sign(self, c: int) -> int:
        if c in _DIGITS:
            self.step = self.exp0
            return _CONTINUE
        return self.error(c, "in exponent of numeric literal")

    def exp0(self, c: int) -> int:
        if c in _DIGITS:
            return _CONTINUE
        return self.end_value(c)

    def _literal(self, word: str, pos: int):
        def state(c: int) -> int:
            if c == ord(word[pos]):
                self.step = self.end_value if pos == len(word) - 1 else self._literal(word, pos + 1)
                return _CONTINUE
            return self.error(c, f"in literal {word} (expecting '{word[pos]}')")

        return state

    def t(self, c: int) -> int:
        return self._literal("true", 1)(c)

    def f(self, c: int) -> int:
        return self._literal("false", 1)(c)

    def n(self, c: int) -> int:
        return self._literal("null", 1)(c)


def read_value(data: bytes) -> bytes:
    """The first JSON value of ``data``, as ``json.Decoder.Decode`` reads it (Go's errors)."""
    scanner = _GoScanner()
    for index, c in enumerate(data):
        op = scanner.step(c)
        if op == _END:
            return data[:index]
        if op in (_END_OBJECT, _END_ARRAY) and scanner.end_value(0x20) == _END:
            return data[: index + 1]
        if op == _ERROR:
            raise bad(scanner.err or "invalid JSON")
    if scanner.step(0x20) == _END:
        return data
    if any(c not in _SPACE for c in data):
        raise bad("unexpected EOF")
    raise bad("EOF")
