"""conditions.py - the ConnectWise `conditions` query language, for the fake server.

Job: tokenize, parse (recursive descent) and evaluate a `conditions` string against
plain dicts such as stored TimeEntry records.  Grammar (connectwise-api.md section 5,
with the fake's choices of section 14 rows 19 and 20):

    expr       = and_expr *( "or" and_expr )          ; "and" binds tighter than "or"
    and_expr   = term *( "and" term )
    term       = "(" expr ")" / comparison
    comparison = field op value
               / field ["not"] ("contains" / "like") string
               / field ["not"] "in" "(" value *( "," value ) ")"
    field      = name *( "/" name )
    op         = "=" / "!=" / "<" / "<=" / ">" / ">="
    value      = string / number / true / false / null / "[" date-or-datetime "]"
    string     = '"' ... '"' / "'" ... "'"   ; a backslash escapes the next character

Keywords are case-insensitive.  String comparison is case-insensitive, as on
ConnectWise's SQL Server collation.  `like` takes `*` (and `%`) as the wildcard.
A field path that names a value missing from a record compares as null.

Invariants: parse() never evaluates anything; every syntax problem raises
ConditionError with a short detail text (the server wraps it in ConnectWise's
BadRequest envelope); evaluation never raises for odd data, it just does not match.
"""

import datetime
import re

__all__ = ["ConditionError", "parse", "fields_of", "matches", "compile_ast", "parse_datetime",
           "resolve_path"]


class ConditionError(ValueError):
    """A syntax or semantic error in a conditions string."""


_KEYWORDS = {"and", "or", "not", "contains", "like", "in", "true", "false", "null"}
_OPS = ("!=", "<=", ">=", "=", "<", ">")
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:/[A-Za-z_][A-Za-z0-9_]*)*")
_NUM_RE = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_DATE_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?)?"
    r"(Z|[+-]\d{2}:?\d{2})?$")


def parse_datetime(text):
    """Parse a date or date-time (fractional seconds and offsets allowed); return an
    aware UTC datetime, or None when the text is not one.  A bare date is midnight UTC."""
    if not isinstance(text, str):
        return None
    m = _DATE_RE.match(text.strip())
    if not m:
        return None
    y, mo, d, hh, mi, ss, frac, tz = m.groups()
    try:
        micro = int((frac or "0").ljust(6, "0")[:6])
        dt = datetime.datetime(int(y), int(mo), int(d), int(hh or 0), int(mi or 0),
                               int(ss or 0), micro, tzinfo=datetime.timezone.utc)
    except ValueError:
        return None
    if tz and tz != "Z":
        sign = 1 if tz[0] == "+" else -1
        digits = tz[1:].replace(":", "")
        off = datetime.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        dt = dt - sign * off
    return dt


class _Date:
    """A bracketed date literal."""
    __slots__ = ("dt", "text")

    def __init__(self, dt, text):
        self.dt = dt
        self.text = text

    def __repr__(self):
        return "[%s]" % self.text


def _tokenize(text):
    """Yield (kind, value, offset).  kinds: name kw op lp rp comma str num date."""
    i = 0
    n = len(text)
    toks = []
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        if c == "(":
            toks.append(("lp", c, i))
            i += 1
            continue
        if c == ")":
            toks.append(("rp", c, i))
            i += 1
            continue
        if c == ",":
            toks.append(("comma", c, i))
            i += 1
            continue
        if c in "\"'":
            quote = c
            j = i + 1
            buf = []
            while True:
                if j >= n:
                    raise ConditionError("unterminated string starting at offset %d" % i)
                ch = text[j]
                # No escapes: the contract's grammar (connectwise-api.md 5)
                # has none, so a client that relied on a backslash here
                # would be wrong against the real server.
                if ch == quote:
                    break
                buf.append(ch)
                j += 1
            toks.append(("str", "".join(buf), i))
            i = j + 1
            continue
        if c == "[":
            j = text.find("]", i + 1)
            if j < 0:
                raise ConditionError("unterminated date starting at offset %d" % i)
            inner = text[i + 1:j].strip()
            dt = parse_datetime(inner)
            if dt is None:
                raise ConditionError("invalid date [%s] at offset %d" % (inner, i))
            toks.append(("date", _Date(dt, inner), i))
            i = j + 1
            continue
        matched = False
        for op in _OPS:
            if text.startswith(op, i):
                toks.append(("op", op, i))
                i += len(op)
                matched = True
                break
        if matched:
            continue
        m = _NUM_RE.match(text, i)
        if m and (c == "-" or c.isdigit()):
            s = m.group(0)
            end = m.end()
            if end < n and (text[end].isalnum() or text[end] == "_"):
                raise ConditionError("invalid number at offset %d" % i)
            toks.append(("num", float(s) if "." in s else int(s), i))
            i = end
            continue
        m = _NAME_RE.match(text, i)
        if m:
            word = m.group(0)
            if word.lower() in _KEYWORDS:
                toks.append(("kw", word.lower(), i))
            else:
                toks.append(("name", word, i))
            i = m.end()
            continue
        raise ConditionError("unexpected character %r at offset %d" % (c, i))
    toks.append(("end", None, n))
    return toks


class _Parser:
    def __init__(self, text):
        self.toks = _tokenize(text)
        self.pos = 0

    def peek(self):
        return self.toks[self.pos]

    def take(self):
        t = self.toks[self.pos]
        self.pos += 1
        return t

    def expect(self, kind, what):
        t = self.take()
        if t[0] != kind:
            raise ConditionError("expected %s at offset %d" % (what, t[2]))
        return t

    def parse(self):
        if self.peek()[0] == "end":
            raise ConditionError("empty conditions")
        node = self.expr()
        t = self.peek()
        if t[0] != "end":
            raise ConditionError("unexpected %s at offset %d" % (_show(t), t[2]))
        return node

    def expr(self):
        items = [self.and_expr()]
        while self.peek() == ("kw", "or", self.peek()[2]):
            self.take()
            items.append(self.and_expr())
        return items[0] if len(items) == 1 else ("or", items)

    def and_expr(self):
        items = [self.term()]
        while self.peek() == ("kw", "and", self.peek()[2]):
            self.take()
            items.append(self.term())
        return items[0] if len(items) == 1 else ("and", items)

    def term(self):
        t = self.peek()
        if t[0] == "lp":
            self.take()
            node = self.expr()
            self.expect("rp", "')'")
            return node
        return self.comparison()

    def value(self):
        t = self.take()
        kind, val = t[0], t[1]
        if kind == "str":
            return val
        if kind == "num":
            return val
        if kind == "date":
            return val
        if kind == "kw" and val in ("true", "false"):
            return val == "true"
        if kind == "kw" and val == "null":
            return None
        raise ConditionError(
            "expected a value at offset %d (found %s)" % (t[2], _show(t)))

    def comparison(self):
        t = self.take()
        if t[0] != "name":
            raise ConditionError("expected a field name at offset %d (found %s)"
                                 % (t[2], _show(t)))
        field = t[1]
        negate = False
        t = self.take()
        if t[0] == "kw" and t[1] == "not":
            negate = True
            t = self.take()
            if not (t[0] == "kw" and t[1] in ("contains", "like", "in")):
                raise ConditionError("'not' must be followed by contains, like or in "
                                     "(offset %d)" % t[2])
        if t[0] == "op":
            return ("cmp", t[1], field, self.value())
        if t[0] == "kw" and t[1] in ("contains", "like"):
            v = self.take()
            if v[0] != "str":
                raise ConditionError("%s needs a quoted string at offset %d"
                                     % (t[1], v[2]))
            return ("str", t[1], field, v[1], negate)
        if t[0] == "kw" and t[1] == "in":
            self.expect("lp", "'(' after in")
            vals = [self.value()]
            while self.peek()[0] == "comma":
                self.take()
                vals.append(self.value())
            self.expect("rp", "')' closing the in list")
            return ("in", field, vals, negate)
        raise ConditionError("expected an operator after %s at offset %d (found %s)"
                             % (field, t[2], _show(t)))


def _show(tok):
    if tok[0] == "end":
        return "end of input"
    return repr(tok[1])


def parse(text):
    """Parse a conditions string into an AST.  Raises ConditionError."""
    if not isinstance(text, str):
        raise ConditionError("conditions must be a string")
    return _Parser(text).parse()


def fields_of(node):
    """Every field path the AST names (so the caller can reject unknown ones)."""
    kind = node[0]
    if kind in ("and", "or"):
        out = []
        for child in node[1]:
            out.extend(fields_of(child))
        return out
    if kind == "in":
        return [node[1]]
    return [node[2]]


def resolve_path(record, path):
    """Value at "a/b/c" in nested dicts; field names match case-insensitively when the
    exact spelling is missing.  Missing means None."""
    cur = record
    for part in path.split("/"):
        if not isinstance(cur, dict):
            return None
        if part in cur:
            cur = cur[part]
            continue
        low = part.lower()
        for k in cur:
            if k.lower() == low:
                cur = cur[k]
                break
        else:
            return None
    return cur


def _norm(v):
    """Comparable form of a record value: ('null'|'num'|'bool'|'str'|'date', x)."""
    if v is None:
        return ("null", None)
    if isinstance(v, bool):
        return ("bool", v)
    if isinstance(v, (int, float)):
        return ("num", v)
    if isinstance(v, str):
        return ("str", v)
    return ("other", v)


def _compare(op, recval, lit):
    """Apply op to a record value and a literal.  Type mismatches never match,
    except that != is true for them."""
    rk, rv = _norm(recval)
    if lit is None:
        if op == "=":
            return rk == "null"
        if op == "!=":
            return rk != "null"
        return False
    if rk == "null":
        return op == "!="
    if isinstance(lit, _Date):
        if rk != "str":
            return op == "!="
        dt = parse_datetime(rv)
        if dt is None:
            return op == "!="
        a, b = dt, lit.dt
    elif isinstance(lit, bool):
        if rk != "bool":
            return op == "!="
        a, b = rv, lit
    elif isinstance(lit, (int, float)):
        if rk != "num":
            return op == "!="
        a, b = rv, lit
    else:
        if rk != "str":
            return op == "!="
        a, b = rv.casefold(), lit.casefold()
    try:
        if op == "=":
            return a == b
        if op == "!=":
            return a != b
        if op == "<":
            return a < b
        if op == "<=":
            return a <= b
        if op == ">":
            return a > b
        if op == ">=":
            return a >= b
    except TypeError:
        return False
    return False


_like_cache = {}


def _like_regex(pattern):
    rx = _like_cache.get(pattern)
    if rx is None:
        parts = []
        for ch in pattern:
            if ch in "*%":
                parts.append(".*")
            else:
                parts.append(re.escape(ch))
        rx = re.compile("^" + "".join(parts) + "$", re.IGNORECASE | re.DOTALL)
        if len(_like_cache) < 256:
            _like_cache[pattern] = rx
    return rx


def matches(node, record):
    """True when the record satisfies the AST."""
    kind = node[0]
    if kind == "and":
        return all(matches(c, record) for c in node[1])
    if kind == "or":
        return any(matches(c, record) for c in node[1])
    if kind == "cmp":
        _, op, field, lit = node
        return _compare(op, resolve_path(record, field), lit)
    if kind == "str":
        _, how, field, lit, negate = node
        v = resolve_path(record, field)
        if not isinstance(v, str):
            hit = False
        elif how == "contains":
            hit = lit.casefold() in v.casefold()
        else:
            hit = _like_regex(lit).match(v) is not None
        return hit != negate
    if kind == "in":
        _, field, vals, negate = node
        v = resolve_path(record, field)
        hit = any(_compare("=", v, lit) for lit in vals)
        return hit != negate
    raise AssertionError("bad node %r" % (node,))


def _getter(path, canon):
    """A fast accessor for a field path (names canonicalised once, here)."""
    parts = tuple((canon(path) if canon else path).split("/"))
    if len(parts) == 1:
        key = parts[0]
        return lambda r: r.get(key)
    if len(parts) == 2:
        a, b = parts

        def get2(r):
            v = r.get(a)
            return v.get(b) if isinstance(v, dict) else None
        return get2
    return lambda r: resolve_path(r, "/".join(parts))


def compile_ast(node, canon=None):
    """Turn an AST into a predicate record -> bool, equivalent to matches() but several
    times faster (the fake evaluates conditions over thousands of entries per query).
    canon maps a field path as written to the records' spelling."""
    kind = node[0]
    if kind in ("and", "or"):
        subs = [compile_ast(c, canon) for c in node[1]]
        if kind == "and":
            return lambda r: all(f(r) for f in subs)
        return lambda r: any(f(r) for f in subs)
    if kind == "cmp":
        _, op, field, lit = node
        get = _getter(field, canon)
        if op == "=" and isinstance(lit, str):
            want = lit.casefold()

            def eq_str(r):
                v = get(r)
                return isinstance(v, str) and v.casefold() == want
            return eq_str
        if op == "=" and isinstance(lit, int) and not isinstance(lit, bool):
            def eq_int(r):
                v = get(r)
                return v == lit and not isinstance(v, bool) and v is not None
            return eq_int
        return lambda r: _compare(op, get(r), lit)
    if kind == "str":
        _, how, field, lit, negate = node
        get = _getter(field, canon)
        if how == "contains":
            want = lit.casefold()

            def contains(r):
                v = get(r)
                return (isinstance(v, str) and want in v.casefold()) != negate
            return contains
        rx = _like_regex(lit)

        def like(r):
            v = get(r)
            return (isinstance(v, str) and rx.match(v) is not None) != negate
        return like
    if kind == "in":
        _, field, vals, negate = node
        get = _getter(field, canon)
        return lambda r: any(_compare("=", get(r), lit) for lit in vals) != negate
    raise AssertionError("bad node %r" % (node,))
