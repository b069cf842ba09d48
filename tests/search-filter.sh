#!/bin/sh
# rag-search --filter: on random records and random expressions, the hits
# are exactly the best k of what a full ranking passed through rag-filter
# keeps, in the same order with the same scores; the pruned search and
# --exhaustive agree; --all --filter writes what rag-filter keeps of
# --all; a bad filter is a usage error that shows where.  The same holds
# for stores with indexed fields (--index-field), where rag-search narrows
# the records from each segment's section 19: one that indexes five
# fields from the start, one that adds two after some segments were
# written (segments with and without the section), and that one again
# after --compact rebuilt the section from the stored records; the
# sections hold exactly the values of the records.
. "${top_srcdir:-.}/tests/lib.sh"

command -v "$py" > /dev/null || { echo "python3 is needed"; exit 77; }

# Fewer cases under valgrind, where each process is slow.
cases=60
[ "${RAG_VALGRIND:-0}" = 1 ] && cases=6

"$py" - "$cases" <<'EOF' > gen.out || fail "the generator failed"
import json, random, sys
rnd = random.Random(20261127)
words = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu".split()
sources = ["arxiv", "acl", "blog", "Blog", "wiki", ""]
with open("recs.jsonl", "w") as f:
    for i in range(1500):
        r = {"id": "r%04d" % i,
             "text": " ".join(rnd.choice(words) for _ in range(rnd.randint(3, 25)))}
        c = rnd.random()
        if c < 0.8:
            r["year"] = rnd.randint(1990, 2025)
        elif c < 0.9:
            r["year"] = str(rnd.randint(1990, 2025))
        elif c < 0.95:
            r["year"] = None
        if rnd.random() < 0.7:
            r["rating"] = round(rnd.uniform(0, 5), rnd.choice([0, 1, 2]))
        if rnd.random() < 0.8:
            r["source"] = rnd.choice(sources)
        if rnd.random() < 0.6:
            r["tags"] = rnd.sample(words[:6], rnd.randint(0, 3))
        if rnd.random() < 0.5:
            r["meta"] = {"lang": rnd.choice(["en", "fr", "de"]), "n": rnd.randint(0, 9)}
        f.write(json.dumps(r) + "\n")
    # Awkward values, from a generator of their own: numbers beyond 64
    # bits, -0.0, 2001.0 beside 2001, strings with NUL, escapes and
    # non-ASCII, values of every type where others have numbers.
    odd = random.Random(7)
    pools = {
        "year": [123456789012345678901234, -0.0, 2001.0, 2001.5, "2001 ", True, [2001],
                 {"y": 2001}, 1e300, 0.30000000000000004, -5, 0, "", "\u00e9", None],
        "rating": [5, 5.0, -1e-300, "3.5", 4.999999999999999, [1], None, False],
        "source": ["\u00e9", "a\u0000b", "\u2028", "ACL", "acl ", "a%b", "Blog\n", "\"q\"",
                   "\\", "arxiv", "blog"],
        "tags": [[], [[]], ["alpha", "alpha"], "alpha", None, ["ALPHA"], [1, "beta"]],
        "meta": [None, {"lang": None}, {"lang": ["en"]}, "en", {"lang": "en", "n": 1.5},
                 {"lang": 3}, {}, {"lang": "fr", "n": None}],
    }
    for i in range(60):
        r = {"id": "x%03d" % i,
             "text": " ".join(odd.choice(words) for _ in range(odd.randint(3, 12)))}
        for key, pool in pools.items():
            if odd.random() < 0.75:
                r[key] = odd.choice(pool)
        f.write(json.dumps(r) + "\n")
    # A repeated key: the last one counts.
    f.write('{"id":"x900","text":"alpha beta gamma","year":1999,"year":"dup",'
            '"source":"acl","source":"blog","rating":1,"rating":4.5}\n')

def value():
    c = rnd.randrange(9)
    if c == 8:
        return rnd.choice(["0", "-0.0", "1e20", "2001.0", "0.30000000000000004", "5",
                           json.dumps("\u00e9"), json.dumps("a\u0000b"), json.dumps("2001 ")])
    return rnd.choice([str(rnd.randint(1985, 2030)), "%.1f" % rnd.uniform(0, 5),
                       json.dumps(rnd.choice(sources)), json.dumps(str(rnd.randint(1990, 2025)))])

def atom():
    c = rnd.randrange(19)
    op = rnd.choice(["==", "!=", "<", "<=", ">", ">="])
    if c == 0: return "year %s %s" % (op, value())
    if c == 1: return "rating %s %s" % (op, value())
    if c == 2: return "source %s %s" % (op, value())
    if c == 3: return "%d <= year < %d" % (rnd.randint(1990, 2010), rnd.randint(2000, 2026))
    if c == 4: return "source %sin [%s]" % (rnd.choice(["", "not "]), ", ".join(value() for _ in range(3)))
    if c == 5: return "meta.lang == %s" % json.dumps(rnd.choice(["en", "fr", "xx"]))
    if c == 6: return "meta[\"n\"] %% 3 == %d" % rnd.randint(0, 2)
    if c == 7: return "array_contains(tags, %s)" % json.dumps(rnd.choice(words[:6]))
    if c == 8: return "source like %s" % json.dumps(rnd.choice(["a%", "%log", "_cl", "%"]))
    if c == 9: return "source =~ %s" % json.dumps(rnd.choice(["(?i)^b", "x", "v$"]))
    if c == 10: return "%s %s" % (rnd.choice(["year", "rating", "tags", "meta"]), rnd.choice(["is null", "is not null"]))
    # indexed fields, each alone, in other spellings and with others
    if c == 11: return "exists %s" % rnd.choice(["year", "source", "meta.lang", "meta", "tags", "meta.n"])
    if c == 12: return "year %sin [%s]" % (rnd.choice(["", "not "]), ", ".join(value() for _ in range(3)))
    if c == 13: return rnd.choice(["1 == 1", "1 == 2", "true", "false"])
    if c == 14: return rnd.choice(["meta[\"lang\"] != \"en\"", "$meta[\"year\"] > 2010",
                                   "$meta.source == \"acl\"", "meta.lang is null",
                                   "meta.lang in [\"fr\", \"de\"]"])
    if c == 15: return rnd.choice(["year == rating", "year > rating * 400", "source == meta.lang",
                                   "year + meta.n > 2010", "array_contains(tags, source)"])
    if c == 16: return rnd.choice(["array_length(tags) == %d" % rnd.randint(0, 3),
                                   "array_contains_any(tags, [\"alpha\", \"beta\"])",
                                   "tags[0] == \"alpha\"", "tags == []"])
    if c == 17: return "source %s %s" % (rnd.choice(["!~", "=~"]), json.dumps(rnd.choice(["^a", "(?i)acl", "\\x00", "^$", "\u00e9"])))
    return "rating * 2 + 1 > %d" % rnd.randint(0, 11)

def expr(d=0):
    if d > 2 or rnd.random() < 0.4:
        return atom()
    c = rnd.randrange(3)
    if c == 0: return "(%s) and (%s)" % (expr(d + 1), expr(d + 1))
    if c == 1: return "%s or %s" % (expr(d + 1), expr(d + 1))
    return "not (%s)" % expr(d + 1)

import os
os.mkdir("cases")
for n in range(1, int(sys.argv[1]) + 1):
    q = " ".join(rnd.sample(words, rnd.randint(1, 3)))
    c = {"q": q, "k": rnd.choice([1, 3, 10, 50]), "expr": expr()}
    print(json.dumps(c))
    for key in c:
        with open("cases/%d.%s" % (n, key), "w") as f:
            f.write("%s" % c[key])
EOF

# hits.py [-r] FILE...: each FILE of hits as "id score" lines in
# FILE.txt, after checking that the ranks are 1, 2, ... (not with -r: a
# reference keeps the ranks of the whole ranking).
cat > hits.py <<'EOF'
import json, sys
bad, ranks, names = 0, sys.argv[1] != "-r", sys.argv[1:]
if not ranks:
    names = names[1:]
for name in names:
    with open(name + ".txt", "w") as out:
        for i, l in enumerate(open(name), 1):
            r = json.loads(l)
            if ranks and r.get("rank") != i:
                print("%s: rank %r on line %d" % (name, r.get("rank"), i))
                bad = 1
            out.write("%s %r\n" % (r["id"], r["score"]))
sys.exit(bad)
EOF

# sections.py STORE ALL FIELDS...: checks section 19 of each segment of
# STORE against its records (ALL: rag-search --all STORE, in store
# order): the fields named are FIELDS (or none: "-"), the values are
# distinct, in byte order and JSON, and every live record is listed under
# its value of each field, or under none when it lacks the field.
# Prints what is wrong, and the segments as "name 0|1" (has section 19).
cat > sections.py <<'EOF'
import json, os, struct, sys

def canon(v):
    """A value as the C library reads it: integers beyond 64 bits are reals."""
    if isinstance(v, bool) or v is None or isinstance(v, (str, float)):
        return v
    if isinstance(v, int):
        return v if -2**63 <= v < 2**63 else float(v)
    if isinstance(v, list):
        return [canon(x) for x in v]
    return {k: canon(x) for k, x in v.items()}

def key(v):
    return json.dumps(canon(v), sort_keys=True)

def get(rec, path):
    for step in path.split("."):
        if not isinstance(rec, dict) or step not in rec:
            return None, False
        rec = rec[step]
    return rec, True

store, allfile, want = sys.argv[1], sys.argv[2], sys.argv[3:]
if want == ["-"]:
    want = []
m = open(os.path.join(store, "MANIFEST"), "rb").read()
body = json.loads(m[32:32 + struct.unpack_from("<I", m, 16)[0]])
live = [json.loads(l) for l in open(allfile, encoding="utf-8")]
problems, at = [], 0
for seg in body["segments"]:
    b = open(os.path.join(store, seg["file"]), "rb").read()
    nsec, n = struct.unpack_from("<I", b, 24)[0], struct.unpack_from("<Q", b, 32)[0]
    if n != seg["records"]:
        problems.append("%s: %d records, the manifest says %d" % (seg["file"], n, seg["records"]))
    deleted = set()
    if seg.get("deletions"):
        d = open(os.path.join(store, seg["deletions"]), "rb").read()[32:]
        deleted = {i for i in range(n) if d[i // 8] >> (i % 8) & 1}
    recs = {}
    for i in range(n):
        if i not in deleted:
            recs[i] = live[at] if at < len(live) else {}
            at += 1
    sec = None
    for i in range(nsec):
        kind, flags, off, length = struct.unpack_from("<IIQQ", b, 64 + 32 * i)
        if kind == 19:
            sec = (off, length)
    print(seg["file"], 1 if sec else 0)
    if not sec:
        continue
    p = sec[0]
    def u32():
        global p
        p += 4
        return struct.unpack_from("<I", b, p - 4)[0]
    names = []
    for _ in range(u32()):
        nl = u32()
        name = b[p:p + nl].decode("utf-8")
        names.append(name)
        p += (nl + 3) & ~3
        nv, nr = u32(), u32()
        toff = [u32() for _ in range(nv + 1)]
        roff = [u32() for _ in range(nv + 1)]
        docs = [u32() for _ in range(nr)]
        text = b[p:p + toff[nv]]
        p += (toff[nv] + 3) & ~3
        what = "%s, field %s" % (seg["file"], name)
        values = [text[toff[j]:toff[j + 1]] for j in range(nv)]
        if values != sorted(set(values)):
            problems.append(what + ": values not distinct and in byte order")
        listed = {}
        for j in range(nv):
            try:
                v = json.loads(values[j].decode("utf-8"))
            except Exception as e:
                problems.append("%s: value %r is not JSON: %s" % (what, values[j], e))
                continue
            for d in docs[roff[j]:roff[j + 1]]:
                if d in listed or d >= n:
                    problems.append("%s: record %d listed twice or does not exist" % (what, d))
                listed[d] = v
        for d, r in recs.items():
            v, has = get(r, name)
            if has != (d in listed) or (has and key(v) != key(listed[d])):
                problems.append("%s: record %d (%s) holds %s, listed as %s" % (
                    what, d, r.get("id"), json.dumps(v) if has else "nothing",
                    json.dumps(listed[d]) if d in listed else "nothing"))
    if p > sec[0] + sec[1]:
        problems.append("%s: section 19 runs past its end" % seg["file"])
    if names != want:
        problems.append("%s: fields %s, not %s" % (seg["file"], names, want))
if at != len(live):
    problems.append("%d records in the segments, %d in --all" % (at, len(live)))
for x in problems[:10]:
    print("PROBLEM", x)
EOF

# Checks section 19 of store $1 against its records, FIELDS $2...; sets
# $layout to which segments have it ("1 1 0 ..." in store order).
sections()
{
	st=$1
	shift
	rag-search --all "$st" > "all-$st.jsonl" || fail "rag-search --all $st failed"
	"$py" sections.py "$st" "all-$st.jsonl" "$@" > "sections-$st.txt" 2>&1 ||
		fail "sections.py failed on $st: $(tail -n 3 "sections-$st.txt")"
	: > "$err"
	grep '^PROBLEM' "sections-$st.txt" | while IFS= read -r line; do
		echo "FAIL $test_name: $st: $line" >&2
	done
	check '! grep -q "^PROBLEM" "sections-$st.txt"' "the indexed fields of $st do not hold the records' values"
	layout=$(grep -v '^PROBLEM' "sections-$st.txt" | cut -d' ' -f2 | tr '\n' ' ')
}

# Several segments, and deleted records among them.
run rag-index -q --batch 400 kb recs.jsonl
expect_status 0
printf 'r0003\nr0500\nr0999\nr1200\nx005\n' > gone.txt
run rag-index -q --delete kb gone.txt
expect_status 0

# The same with five indexed fields.
fields="--index-field year --index-field source --index-field rating --index-field meta.lang --index-field tags"
run rag-index -q --batch 400 $fields kbx recs.jsonl
expect_status 0
run rag-index -q --delete kbx gone.txt
expect_status 0
# And two fields added after the first two segments: they lack section
# 19, the later ones have it (deletes fall in both).
head -n 800 recs.jsonl > first.jsonl
tail -n +801 recs.jsonl > rest.jsonl
run rag-index -q --batch 400 kbl first.jsonl
expect_status 0
run 'rag-index -q --index-field year --index-field source kbl < /dev/null'
expect_status 0
expect_err ""
run rag-index -q --batch 400 kbl rest.jsonl
expect_status 0
run rag-index -q --delete kbl gone.txt
expect_status 0
# The fields in the settings of store $1, on one line.
settings()
{
	tail -c +33 "$1/MANIFEST" | "$py" -c 'import json,sys; print(" ".join(json.load(sys.stdin)["settings"].get("fields", [])))'
}
check '[ "$(settings kbx)" = "year source rating meta.lang tags" ]' "kbx records the fields $(settings kbx)"
check '[ "$(settings kbl)" = "year source" ]' "kbl records the fields $(settings kbl)"
check '[ -z "$(settings kb)" ]' "kb records the fields $(settings kb)"
sections kbx year source rating meta.lang tags
check '[ "$layout" = "1 1 1 1 " ]' "kbx: the segments with section 19 are $layout, not all four"
sections kbl year source
check '[ "$layout" = "0 0 1 1 " ]' "kbl: the segments with section 19 are $layout, not the last two"
sections kb -
check '[ "$layout" = "0 0 0 0 " ]' "kb: the segments with section 19 are $layout, not none"
run rag-index --check kbl
expect_status 0
check 'cmp -s all-kb.jsonl all-kbx.jsonl && cmp -s all-kb.jsonl all-kbl.jsonl' "the stores hold other records"

# want-N.txt: the reference of case N on store $1, every hit of the
# query filtered by rag-filter, first k; status 1 when it cannot be had.
reference()
{
	rag-search -k 100000 "$1" "$q" > all.jsonl 2> /dev/null || { fail "case $n: ranking failed"; return 1; }
	rag-filter "$e" all.jsonl > kept.jsonl 2> filter.err
	fs=$?
	[ "$fs" -le 1 ] || { fail "case $n: rag-filter failed on $e: $(cat filter.err)"; return 1; }
	head -n "$k" kept.jsonl > "want-$n"
	"$py" hits.py -r "want-$n" || { fail "case $n: the reference is no hits"; return 1; }
}

# Compares case N's hits on stores $@ (both modes) with want-N.txt.
compare()
{
	gots=
	for st in "$@"; do
		for mode in "" --exhaustive; do
			run rag-search $mode -k "$k" --fields id --filter "$e" "$st" "$q"
			[ "$status" = 0 ] || { fail "case $n: rag-search --filter $mode $st failed"; continue; }
			cp "$out" "got-$st$mode"
			gots="$gots got-$st$mode"
		done
	done
	"$py" hits.py $gots > check.err 2>&1 || fail "case $n: ranks are not 1, 2, ...: $(cat check.err)"
	for g in $gots; do
		cmp -s "want-$n.txt" "$g.txt" || {
			: > "$err"
			fail "case $n ${g#got-}: q=$q k=$k filter=$e"
			diff "want-$n.txt" "$g.txt" | head -n 10 >&2
		}
	done
}

n=0
while IFS= read -r line; do
	n=$((n + 1))
	q=$(cat "cases/$n.q")
	k=$(cat "cases/$n.k")
	e=$(cat "cases/$n.expr")
	reference kb || continue
	compare kb kbx kbl
done < gen.out
check "[ $n -ge $cases ]" "only $n cases ran"
nonempty=$(for f in want-*.txt; do [ -s "$f" ] && echo x; done | wc -l)
check "[ $nonempty -ge $((cases / 2)) ]" "only $nonempty of $n cases have hits"

# --compact rebuilds section 19 of every segment from the stored records;
# both stores check; compacted, kbl gives the hits a compacted kb ranks.
run rag-index -q --compact kbl
expect_status 0
run rag-index --check kbl
expect_status 0
expect_out "kbl: ok, 1556 records"
run rag-index --check kbx
expect_status 0
expect_out "kbx: ok, 1556 records"
sections kbl year source
check '[ "$layout" = "1 " ]' "kbl after --compact: the segments with section 19 are $layout"
cp -r kb kbc
run rag-index -q --compact kbc
expect_status 0
again=12
[ "${RAG_VALGRIND:-0}" = 1 ] && again=2
n=0
while [ "$n" -lt "$again" ] && [ "$n" -lt "$cases" ]; do
	n=$((n + 1))
	q=$(cat "cases/$n.q")
	k=$(cat "cases/$n.k")
	e=$(cat "cases/$n.expr")
	reference kbc || continue
	compare kbl
done

# Several queries in one run (the narrowing is worked out once) give the
# hits of each alone.
e='year >= 2000 and source in ["acl", "blog"] or array_contains(tags, "beta")'
for st in kb kbx; do
	rag-search -k 7 --fields id --filter "$e" "$st" alpha "beta gamma" "zeta" > "multi-$st.jsonl" ||
		fail "several queries on $st failed"
done
for qq in alpha "beta gamma" zeta; do
	rag-search -k 7 --fields id --filter "$e" kb "$qq"
done > single.jsonl
check '[ -s single.jsonl ] && cmp -s single.jsonl multi-kb.jsonl && cmp -s single.jsonl multi-kbx.jsonl' \
	"several queries in one run give other hits than each alone"

# --all --filter writes what rag-filter keeps of --all.
e='year >= 2000 and source in ["acl", "blog"] or array_contains(tags, "beta")'
rag-search --all kb > everything.jsonl
rag-filter "$e" everything.jsonl > want.jsonl
run rag-search --all --filter "$e" kb
expect_status 0
cmp -s want.jsonl "$out" || fail "--all --filter differs from rag-filter on --all"
run rag-search --all --filter "$e" kbx
expect_status 0
cmp -s want.jsonl "$out" || fail "--all --filter on kbx differs from rag-filter on --all"
check '[ -s want.jsonl ]' "the --all case selects nothing"

# Parameters.
run rag-search -k 5 --fields id --filter 'year > {y} and source == {s}' -p y=2010 --param s=acl kb "alpha beta"
expect_status 0
rag-search -k 5 --fields id --filter 'year > 2010 and source == "acl"' kb "alpha beta" > want.jsonl
cmp -s want.jsonl "$out" || fail "--param gives other hits than the literal values"
run rag-search -k 5 --fields id --filter 'year > {y} and source == {s}' -p y=2010 --param s=acl kbx "alpha beta"
expect_status 0
cmp -s want.jsonl "$out" || fail "--param on kbx gives other hits than on kb"

# A regular expression that hits PCRE2's match limit on a value of an
# indexed field that no hit holds fails no search, as without the index.
"$py" -c 'print("{\"id\":\"bomb\",\"text\":\"pear\",\"s\":\"%s!\"}" % ("a" * 40))
print("{\"id\":\"ok\",\"text\":\"apple\",\"s\":\"aaa\"}")' > bomb.jsonl
run rag-index -q --index-field s bombx bomb.jsonl
expect_status 0
run rag-search --fields id --filter 's =~ "^(a|a?)+$"' bombx apple
expect_status 0
expect_out '{"id":"ok","score":'"$(rag-search --fields score bombx apple | sed 's/.*"score":\([^,}]*\).*/\1/')"',"rank":1,"query":"apple"}'
# ... and one that does meet it reports it
run rag-search --fields id --filter 's =~ "^(a|a?)+$"' bombx pear
expect_status 1
expect_err_has 'match limit'

# A field written another way is the same field: indexed once.
run rag-index -q --index-field 'meta["lang"]' --index-field '$meta["year"]' kbx
expect_status 0
"$py" - kbx/MANIFEST <<'PYEOF' > fields.txt || fail "cannot read kbx's manifest"
import json, sys
d = open(sys.argv[1], "rb").read()
print(json.loads(d[d.index(b"{"):])["settings"]["fields"])
PYEOF
check "grep -qx \"\['year', 'source', 'rating', 'meta.lang', 'tags'\]\" fields.txt" \
	"kbx indexes a field twice: $(cat fields.txt)"

# A bad filter is a usage error, shown with a caret; nothing is searched.
run rag-search --filter 'year >= ' kb alpha
expect_status 2
expect_err "rag-search: expression:1:9: expected a value after '>='
  year >= 
          ^"
check '[ ! -s "$out" ]' "hits written for a bad filter"
run rag-search --filter 'year > {nope}' kb alpha
expect_status 2
expect_err_has 'no value given for the parameter {nope}'
run rag-search -p novalue --filter 'year > 1' kb alpha
expect_status 2
expect_err_has 'NAME=VALUE'

finish
