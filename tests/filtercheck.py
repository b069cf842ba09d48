#!/usr/bin/env python3
"""Checks rag-filter against an independent model of its semantics.

Usage: filtercheck.py [--seed N] [--records N] [--exprs N] [--program P] [--jobs N]

Makes N random records (written with odd spacing, key orders, escapes,
repeated keys and numbers of every form) into fc-records.jsonl in the
current directory, and N random expressions over them; runs the program
(rag-filter from PATH) on each expression, some with -v or -c, and
compares what it writes with what this model selects: the raw lines of
the matching records, byte for byte; with -v the others; with -c their
number; exit status 0 when something was written, else 1; no messages.
The same seed makes the same records and expressions.

The model covers a safe subset of the language, as rag-filter(1) and
lib/filter.h define it:
  - a comparison meeting a missing field, null, or values of two types
    is false (for != too); numbers compare by value across integers and
    reals, exactly; strings bytewise (UTF-8, i.e. by code point); lists
    and objects only with == and != (deep, numbers by value);
  - a condition is true only when its value is the boolean true;
  - and, or, not, chained comparisons, in / not in (false for a missing
    or null value, null list members never match), is [not] null
    (missing or null), exists (present, null included), like with % and _,
    array_contains, array_length;
  - + - * and unary -: integers stay integers unless the result leaves
    64 bits, then both sides are taken as doubles; a non-finite result
    or a non-number operand is a missing value;
  - an integer that does not fit in 64 bits (in a record or in the
    expression) is the nearest double.
Prints the problems found (at most 20) and exits 1, or exits 0.
"""
import argparse
import concurrent.futures
import json
import math
import random
import re
import subprocess
import sys

INT_MIN, INT_MAX = -(2 ** 63), 2 ** 63 - 1


class Missing:
    def __repr__(self):
        return "MISSING"


MISSING = Missing()


def kind(v):
    if v is MISSING:
        return "missing"
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "real"
    if isinstance(v, str):
        return "str"
    if isinstance(v, list):
        return "arr"
    return "obj"


def is_num(v):
    return kind(v) in ("int", "real")


def parse_int(text):
    v = int(text)
    return v if INT_MIN <= v <= INT_MAX else float(text)


def load(line):
    return json.loads(line, parse_int=parse_int)


# ---- the model ----

def val_eq(a, b):
    """Deep equality of two values (null equals null inside lists)."""
    ka, kb = kind(a), kind(b)
    if is_num(a) and is_num(b):
        return a == b  # Python compares int and float exactly
    if ka != kb:
        return False
    if ka == "arr":
        return len(a) == len(b) and all(val_eq(x, y) for x, y in zip(a, b))
    if ka == "obj":
        return len(a) == len(b) and all(k in b and val_eq(v, b[k]) for k, v in a.items())
    if ka == "str":
        return a.encode("utf-8", "surrogatepass") == b.encode("utf-8", "surrogatepass")
    return a == b  # bool, null


def compare(op, a, b):
    ka, kb = kind(a), kind(b)
    if ka in ("missing", "null") or kb in ("missing", "null"):
        return False
    if op in ("==", "!="):
        if not ((is_num(a) and is_num(b)) or ka == kb):
            return False
        return val_eq(a, b) == (op == "==")
    if is_num(a) and is_num(b):
        x, y = a, b
    elif ka == "str" and kb == "str":
        x, y = a.encode("utf-8"), b.encode("utf-8")
    else:
        return False
    return {"<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[op]


def arith(op, a, b):
    if not (is_num(a) and is_num(b)):
        return MISSING
    if kind(a) == "int" and kind(b) == "int":
        r = {"+": a + b, "-": a - b, "*": a * b}[op]
        if INT_MIN <= r <= INT_MAX:
            return r
    x, y = float(a), float(b)
    z = {"+": x + y, "-": x - y, "*": x * y}[op]
    return z if math.isfinite(z) else MISSING


def holds(arr, x):
    if kind(x) in ("missing", "null"):
        return False
    return any(kind(e) not in ("missing", "null") and val_eq(e, x) for e in arr)


def lookup(rec, path):
    v = rec
    for step in path:
        if isinstance(step, str):
            if kind(v) != "obj" or step not in v:
                return MISSING
            v = v[step]
        else:
            if kind(v) != "arr" or step >= len(v):
                return MISSING
            v = v[step]
    return v


def like_regex(pat):
    out = []
    for c in pat:
        out.append(".*" if c == "%" else "." if c == "_" else re.escape(c))
    return re.compile("".join(out), re.S)


def ev(n, rec):
    t = n[0]
    if t == "field":
        return lookup(rec, n[2])
    if t == "lit":
        return n[1]
    if t == "arith":
        return arith(n[1], ev(n[2], rec), ev(n[3], rec))
    if t == "neg":
        a = ev(n[1], rec)
        if kind(a) == "int":
            return -a if a != INT_MIN else float(-a)
        if kind(a) == "real":
            return -a
        return MISSING
    if t == "length":
        a = ev(n[1], rec)
        return len(a) if kind(a) == "arr" else MISSING
    if t == "paren":
        return ev(n[1], rec)
    # conditions: booleans
    if t == "cmp":
        terms, ops = n[1], n[2]
        a = ev(terms[0], rec)
        for op, term in zip(ops, terms[1:]):
            b = ev(term, rec)
            if not compare(op, a, b):
                return False
            a = b
        return True
    if t == "in":
        a = ev(n[2], rec)
        if kind(a) in ("missing", "null"):
            return False
        return holds(n[3], a) != n[1]
    if t == "isnull":
        return (kind(ev(n[2], rec)) in ("missing", "null")) != n[1]
    if t == "exists":
        return ev(n[1], rec) is not MISSING
    if t == "like":
        a = ev(n[1], rec)
        return kind(a) == "str" and like_regex(n[2]).fullmatch(a) is not None
    if t == "contains":
        a, b = ev(n[1], rec), ev(n[2], rec)
        return kind(a) == "arr" and holds(a, b)
    if t == "bare":
        # a value where a condition goes: its truth is taken by and, or,
        # not and the top level; in parentheses it stays a value
        return ev(n[1], rec)
    if t == "not":
        return not truth(ev(n[1], rec))
    if t == "and":
        return all(truth(ev(k, rec)) for k in n[1])
    if t == "or":
        return any(truth(ev(k, rec)) for k in n[1])
    raise ValueError(t)


def truth(v):
    return v is True


# ---- random values, and JSON text written oddly ----

INT_TEXTS = ["0", "-0", "1", "2", "3", "-1", "-3", "7", "10", "255", "2020", "-2020",
             "9223372036854775807", "-9223372036854775808", "9223372036854775806",
             "4611686018427387904", "-4611686018427387905", "3037000500",
             "9223372036854775808", "18446744073709551616",
             "123456789012345678901234567890", "-99999999999999999999"]
REAL_TEXTS = ["0.0", "-0.0", "1.0", "1.00", "2.5", "2.50", "-2.5", "0.1", "0.3", "1e2", "1E+2",
              "1e-7", "2.5e0", "-3.0", "3.5", "7.000000000000001", "1e300", "-1e300",
              "9.2233720368547758e18", "9223372036854775807.0", "-9223372036854775808.0",
              "4611686018427387904.5", "2020.0", "1.7976931348623157e308"]
STRINGS = ["", "a", "b", "ab", "abc", "B", "A", "a b", "\u00e9", "e\u0301", "caf\u00e9",
           "\u00e9t\u00e9", "\U0001F600", "a\u0000b", "a\u0000", "%", "_", "a%b", "\u007f",
           "line\nbreak", "tab\there", "quote\"s", "back\\slash", "'", "2", "1", "true",
           "null", "\u2028", "\uffff", "z" * 30]


CORE_STRINGS = ["", "a", "b", "A", "B", "ab", "\u00e9", "a\u0000b"]


def rand_string(rnd):
    return rnd.choice(CORE_STRINGS if rnd.random() < 0.6 else STRINGS)


def rand_int_text(rnd):
    if rnd.random() < 0.6:
        return str(rnd.randint(-3, 3))
    return rnd.choice(INT_TEXTS)


def rand_value(rnd, depth=0):
    r = rnd.random()
    if r < 0.30:
        return ("num", rand_int_text(rnd))
    if r < 0.48:
        return ("num", rnd.choice(REAL_TEXTS))
    if r < 0.74:
        return ("str", rand_string(rnd))
    if r < 0.82:
        return ("bool", rnd.random() < 0.5)
    if r < 0.86:
        return ("null", None)
    if r < 0.93 and depth < 2:
        return ("arr", [rand_value(rnd, depth + 1) for _ in range(rnd.randint(0, 3))])
    if depth < 2:
        return ("obj", [(rnd.choice(["k", "s", "z", "k"]), rand_value(rnd, depth + 1))
                        for _ in range(rnd.randint(0, 3))])
    return ("num", rand_int_text(rnd))


def ws(rnd):
    return rnd.choice(["", "", "", " ", "  ", "\t", " \t "])


def write_string(rnd, s):
    out = ['"']
    for c in s:
        cp = ord(c)
        r = rnd.random()
        if c == '"':
            out.append('\\"')
        elif c == "\\":
            out.append("\\\\")
        elif c == "\n":
            out.append(rnd.choice(["\\n", "\\u000a", "\\u000A"]))
        elif c == "\t":
            out.append(rnd.choice(["\\t", "\\u0009"]))
        elif cp < 0x20:
            out.append("\\u%04x" % cp)
        elif c == "/" and r < 0.5:
            out.append("\\/")
        elif cp >= 0x10000 and r < 0.5:
            v = cp - 0x10000
            out.append("\\u%04x\\u%04X" % (0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF)))
        elif (cp >= 0x80 and r < 0.3) or (c.isalpha() and r < 0.08):
            out.append(("\\u%04x" if r < 0.04 or 0.15 < r < 0.22 else "\\u%04X") % cp)
        else:
            out.append(c)
    out.append('"')
    return "".join(out)


def write_value(rnd, v):
    t, x = v
    if t == "num":
        return x
    if t == "str":
        return write_string(rnd, x)
    if t == "bool":
        return "true" if x else "false"
    if t == "null":
        return "null"
    if t == "arr":
        return "[" + ws(rnd) + ("," + ws(rnd)).join(
            write_value(rnd, e) + ws(rnd) for e in x) + "]"
    return "{" + ws(rnd) + ("," + ws(rnd)).join(
        write_string(rnd, k) + ws(rnd) + ":" + ws(rnd) + write_value(rnd, e) + ws(rnd)
        for k, e in x) + "}"


TOP = ["i", "j", "r", "s", "t", "b", "l", "o", "odd key", "n"]


def rand_record(rnd, no):
    members = [("id", ("num", str(no)))]
    for k in TOP:
        if rnd.random() < 0.8:
            if k == "l" and rnd.random() < 0.7:
                v = ("arr", [rand_value(rnd, 1) for _ in range(rnd.randint(0, 3))])
            elif k == "o" and rnd.random() < 0.7:
                v = ("obj", [(kk, rand_value(rnd, 1)) for kk in rnd.sample(["k", "s", "z"], rnd.randint(0, 3))])
            else:
                v = rand_value(rnd)
            members.append((k, v))
    rnd.shuffle(members)
    if members and rnd.random() < 0.1:
        # a repeated key: the last one counts
        k = rnd.choice(members)[0]
        members.insert(0, (k, rand_value(rnd)))
    return ws(rnd) + write_value(rnd, ("obj", members)) + rnd.choice(["", "", "", " ", "\t", "\r"])


# ---- random expressions, printed with the fewest parentheses ----

KW = {"and": ["and", "AND", "&&", "And"], "or": ["or", "OR", "||", "Or"],
      "not": ["not", "NOT", "!", "not"]}
FIELDS = [("i", ["i"]), ("j", ["j"]), ("r", ["r"]), ("s", ["s"]), ("t", ["t"]), ("b", ["b"]),
          ("n", ["n"]), ("l[0]", ["l", 0]), ("l[1]", ["l", 1]), ("o.k", ["o", "k"]),
          ('o["s"]', ["o", "s"]), ("$meta['odd key']", ["odd key"]), ("$meta[\"i\"]", ["i"]),
          ("o.k[0]", ["o", "k", 0]), ("nope", ["nope"]), ("l", ["l"]), ("o", ["o"])]


def string_text(rnd, s):
    r = rnd.random()
    if r < 0.5:
        return json.dumps(s, ensure_ascii=rnd.random() < 0.5)
    if r < 0.65 and not any(c in s for c in "\"\\\n\t") and all(ord(c) >= 0x20 for c in s):
        return 'r"' + s + '"'
    out = ["'"]
    for c in s:
        if c in "'\\":
            out.append("\\" + c)
        elif ord(c) < 0x20:
            out.append("\\u%04x" % ord(c))
        else:
            out.append(c)
    out.append("'")
    return "".join(out)


def rand_lit(rnd, allow_list=True):
    """(value, text) of a literal."""
    r = rnd.random()
    if r < 0.35:
        text = rand_int_text(rnd)
        if text == "-0":
            text = "0"
        v = parse_int(text.lstrip("-"))
        v = -v if text.startswith("-") else v
        return v, text
    if r < 0.55:
        text = rnd.choice(REAL_TEXTS)
        return float(text), text
    if r < 0.85:
        s = rand_string(rnd)
        return s, string_text(rnd, s)
    if r < 0.91:
        b = rnd.random() < 0.5
        return b, rnd.choice(["true", "TRUE", "True"] if b else ["false", "False"])
    if r < 0.96 or not allow_list:
        return None, rnd.choice(["null", "NULL"])
    vals = [rand_lit(rnd, False) for _ in range(rnd.randint(0, 3))]
    return [v for v, _ in vals], "[" + ", ".join(t for _, t in vals) + "]"


def rand_field(rnd):
    text, path = rnd.choice(FIELDS)
    return ("field", text, path)


def rand_term(rnd, depth=0):
    r = rnd.random()
    if r < 0.5 or depth > 2:
        return rand_field(rnd)
    if r < 0.75:
        v, text = rand_lit(rnd)
        return ("lit", v, text)
    if r < 0.93:
        return ("arith", rnd.choice("+-*"), rand_term(rnd, depth + 1), rand_term(rnd, depth + 1))
    if r < 0.96:
        return ("neg", rand_term(rnd, depth + 1))
    if r < 0.98:
        return ("length", rand_field(rnd))
    return ("paren", rand_cond(rnd, 3))


def rand_cond(rnd, depth=0):
    r = rnd.random()
    if depth < 3 and r < 0.30:
        t = rnd.choice(["and", "or"])
        return (t, [rand_cond(rnd, depth + 1) for _ in range(rnd.randint(2, 4))])
    if depth < 3 and r < 0.38:
        return ("not", rand_cond(rnd, depth + 1))
    r = rnd.random()
    if r < 0.45:
        n = 1 if rnd.random() < 0.85 else 2
        return ("cmp", [rand_term(rnd) for _ in range(n + 1)],
                [rnd.choice(["==", "!=", "<", "<=", ">", ">="]) for _ in range(n)])
    if r < 0.60:
        vals = [rand_lit(rnd, rnd.random() < 0.2) for _ in range(rnd.randint(0, 4))]
        return ("in", rnd.random() < 0.4, rand_term(rnd, 2), [v for v, _ in vals],
                "[" + ", ".join(t for _, t in vals) + "]")
    if r < 0.70:
        return ("isnull", rnd.random() < 0.5, rand_term(rnd, 2))
    if r < 0.78:
        return ("exists", rand_field(rnd))
    if r < 0.86:
        pat = "".join(rnd.choice(["a", "b", "%", "_", "\u00e9", "ab", " ", "%"])
                      for _ in range(rnd.randint(0, 4)))
        return ("like", rand_field(rnd), pat)
    if r < 0.93:
        v, text = rand_lit(rnd)
        return ("contains", rand_field(rnd), ("lit", v, text))
    return ("bare", rand_field(rnd) if rnd.random() < 0.7 else ("lit",) + rand_lit(rnd, False))


# Precedence: or 1, and 2, not 3, predicate 4; terms: sum 1, product 2, unary 3, atom 4.
def cond_level(n):
    return {"or": 1, "and": 2, "not": 3}.get(n[0], 4)


def term_level(n):
    if n[0] == "arith":
        return 1 if n[1] in "+-" else 2
    if n[0] == "neg":
        return 3
    return 4


def paren(rnd, s, need):
    return "(" + s + ")" if need or rnd.random() < 0.05 else s


def show_term(rnd, n, ctx):
    t = n[0]
    if t == "field":
        s = n[1]
    elif t == "lit":
        s = n[2]
    elif t == "arith":
        lvl = term_level(n)
        s = show_term(rnd, n[2], lvl) + rnd.choice([" ", ""]) + n[1] + rnd.choice([" ", ""]) + \
            show_term(rnd, n[3], lvl + 1)
    elif t == "neg":
        s = "-" + show_term(rnd, n[1], 4 if n[1][0] == "lit" else 3)
    elif t == "length":
        s = rnd.choice(["array_length", "ARRAY_LENGTH"]) + "(" + n[1][1] + ")"
    else:  # paren: a condition as a value
        return "(" + show_cond(rnd, n[1], 1) + ")"
    lit_neg = t == "lit" and n[2].startswith("-")
    # "- -1" must not become "--1" glued to a minus before it; a space is enough
    return paren(rnd, s, term_level(n) < ctx or (lit_neg and ctx > 3))


def show_cond(rnd, n, ctx):
    t = n[0]
    if t in ("and", "or"):
        lvl = cond_level(n)
        parts = [show_cond(rnd, k, lvl + 1) for k in n[1]]
        s = parts[0]
        for p in parts[1:]:
            s += " " + rnd.choice(KW[t]) + " " + p
    elif t == "not":
        w = rnd.choice(KW["not"])
        s = w + ("" if w == "!" and rnd.random() < 0.5 else " ") + show_cond(rnd, n[1], 3)
    elif t == "cmp":
        s = show_term(rnd, n[1][0], 1)
        for op, term in zip(n[2], n[1][1:]):
            s += " " + op + " " + show_term(rnd, term, 1)
    elif t == "in":
        s = show_term(rnd, n[2], 1) + " " + rnd.choice(["not in", "NOT IN", "not  in"] if n[1] else ["in", "IN"]) + \
            " " + n[4]
    elif t == "isnull":
        s = show_term(rnd, n[2], 1) + " " + rnd.choice(["is not null", "IS NOT NULL"] if n[1] else ["is null", "Is Null"])
    elif t == "exists":
        s = rnd.choice(["exists", "EXISTS"]) + " " + n[1][1]
    elif t == "like":
        s = n[1][1] + " " + rnd.choice(["like", "LIKE"]) + " " + string_text(rnd, n[2])
    elif t == "contains":
        s = rnd.choice(["array_contains", "Array_Contains"]) + "(" + n[1][1] + ", " + n[2][2] + ")"
    elif t == "bare":
        s = show_term(rnd, n[1], 4)
    else:
        raise ValueError(t)
    return paren(rnd, s, cond_level(n) < ctx)


def differ(got, want):
    """How output got differs from want, for messages."""
    try:
        g = [load(l)["id"] for l in got.splitlines()]
        w = [load(l)["id"] for l in want.splitlines()]
    except (ValueError, KeyError, TypeError):
        return "got %r, want %r" % (got[:200], want[:200])
    if g == w:
        return "the same records, but not the same bytes" if got != want else "the same output"
    return "records written but not selected: %s; selected but not written: %s" % (
        [i for i in g if i not in w], [i for i in w if i not in g])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--records", type=int, default=150)
    ap.add_argument("--exprs", type=int, default=400)
    ap.add_argument("--program", default="rag-filter")
    ap.add_argument("--jobs", type=int, default=2)
    opt = ap.parse_args()
    rnd = random.Random(opt.seed)

    lines = [rand_record(rnd, i) for i in range(opt.records)]
    # blank lines are no records
    for _ in range(3):
        lines.insert(rnd.randrange(len(lines) + 1), rnd.choice(["", " ", "\t \r"]))
    raw = [l.encode("utf-8") for l in lines]
    with open("fc-records.jsonl", "wb") as f:
        f.write(b"".join(l + b"\n" for l in raw))
    recs = []
    for l, b in zip(lines, raw):
        if l.strip(" \t\r"):
            recs.append((load(l), b))

    problems = []
    seen_true = seen_false = 0
    cases = []
    for k in range(opt.exprs):
        tree = rand_cond(rnd)
        expr = show_cond(rnd, tree, 1)
        invert = k % 4 == 1
        count = k % 4 == 2 or k % 8 == 3
        args = [opt.program] + (["-v"] if invert else []) + (["-c"] if count else []) + \
            ["--", expr, "fc-records.jsonl"]
        cases.append((k, tree, expr, invert, count, args))

    def run(case):
        return subprocess.run(case[5], stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    with concurrent.futures.ThreadPoolExecutor(opt.jobs) as pool:
        results = list(pool.map(run, cases))

    for (k, tree, expr, invert, count, args), p in zip(cases, results):
        want = [b for rec, b in recs if truth(ev(tree, rec))]
        rest = [b for rec, b in recs if not truth(ev(tree, rec))]
        seen_true += bool(want)
        seen_false += bool(rest)
        sel = rest if invert else want
        expect = (b"%d\n" % len(sel)) if count else b"".join(l + b"\n" for l in sel)
        status = 0 if sel else 1
        if p.returncode != status or p.stdout != expect or p.stderr:
            problems.append(
                "expression %d: %s%s\n  status %d (want %d), stderr %r\n  %s" % (
                    k, " ".join(args[1:-3]) + " " if invert or count else "", expr, p.returncode,
                    status, p.stderr.decode(errors="replace")[:300], differ(p.stdout, expect)))
        if len(problems) >= 20:
            break
    for text in problems:
        print(text)
    print("filtercheck: %d expressions over %d records: %d select some, %d leave some out, "
          "%d problems" % (len(cases), len(recs), seen_true, seen_false, len(problems)),
          file=sys.stderr)
    # the generator must make both outcomes common, or the test proves little
    if not problems and (seen_true < opt.exprs // 5 or seen_false < opt.exprs // 5):
        print("the expressions are too one-sided: %d select something, %d leave something out"
              % (seen_true, seen_false))
        return 1
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
