#!/bin/sh
# rag-search --filter: on random records and random expressions, the hits
# are exactly the best k of what a full ranking passed through rag-filter
# keeps, in the same order with the same scores; the pruned search and
# --exhaustive agree; --all --filter writes what rag-filter keeps of
# --all; a bad filter is a usage error that shows where.
. "${top_srcdir:-.}/tests/lib.sh"

py=/usr/bin/python3
[ -x "$py" ] || py=$(command -v python3 || true)
[ -n "$py" ] || { echo "python3 is needed"; exit 77; }

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

def value():
    return rnd.choice([str(rnd.randint(1985, 2030)), "%.1f" % rnd.uniform(0, 5),
                       json.dumps(rnd.choice(sources)), json.dumps(str(rnd.randint(1990, 2025)))])

def atom():
    c = rnd.randrange(12)
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
    return "rating * 2 + 1 > %d" % rnd.randint(0, 11)

def expr(d=0):
    if d > 2 or rnd.random() < 0.4:
        return atom()
    c = rnd.randrange(3)
    if c == 0: return "(%s) and (%s)" % (expr(d + 1), expr(d + 1))
    if c == 1: return "%s or %s" % (expr(d + 1), expr(d + 1))
    return "not (%s)" % expr(d + 1)

for _ in range(int(sys.argv[1])):
    q = " ".join(rnd.sample(words, rnd.randint(1, 3)))
    print(json.dumps({"q": q, "k": rnd.choice([1, 3, 10, 50]), "expr": expr()}))
EOF

# Several segments, and deleted records among them.
run rag-index -q --batch 400 kb recs.jsonl
expect_status 0
printf 'r0003\nr0500\nr0999\nr1200\n' > gone.txt
run rag-index -q --delete kb gone.txt
expect_status 0

# The reference: every hit of the query, filtered by rag-filter, first k.
n=0
while IFS= read -r line; do
	n=$((n + 1))
	q=$(printf '%s' "$line" | "$py" -c 'import json,sys; print(json.load(sys.stdin)["q"])')
	k=$(printf '%s' "$line" | "$py" -c 'import json,sys; print(json.load(sys.stdin)["k"])')
	e=$(printf '%s' "$line" | "$py" -c 'import json,sys; print(json.load(sys.stdin)["expr"])')
	rag-search -k 100000 kb "$q" > all.jsonl 2> /dev/null || fail "case $n: ranking failed"
	rag-filter "$e" all.jsonl > kept.jsonl 2> filter.err
	fs=$?
	[ "$fs" -le 1 ] || { fail "case $n: rag-filter failed on $e: $(cat filter.err)"; continue; }
	head -n "$k" kept.jsonl | "$py" -c '
import json, sys
for l in sys.stdin:
    r = json.loads(l)
    print(r["id"], repr(r["score"]))' > want.txt
	for mode in "" --exhaustive; do
		run rag-search $mode -k "$k" --fields id --filter "$e" kb "$q"
		[ "$status" = 0 ] || { fail "case $n: rag-search --filter $mode failed"; continue; }
		"$py" -c '
import json, sys
for i, l in enumerate(open(sys.argv[1]), 1):
    r = json.loads(l)
    assert r["rank"] == i, (r, i)
    print(r["id"], repr(r["score"]))' "$out" > got.txt 2> check.err ||
			fail "case $n: ranks are not 1, 2, ...: $(cat check.err)"
		cmp -s want.txt got.txt || {
			fail "case $n $mode: q=$q k=$k filter=$e"
			diff want.txt got.txt | head -n 10 >&2
		}
	done
done < gen.out
check "[ $n -ge $cases ]" "only $n cases ran"

# --all --filter writes what rag-filter keeps of --all.
e='year >= 2000 and source in ["acl", "blog"] or array_contains(tags, "beta")'
rag-search --all kb > everything.jsonl
rag-filter "$e" everything.jsonl > want.jsonl
run rag-search --all --filter "$e" kb
expect_status 0
cmp -s want.jsonl "$out" || fail "--all --filter differs from rag-filter on --all"
check '[ -s want.jsonl ]' "the --all case selects nothing"

# Parameters.
run rag-search -k 5 --fields id --filter 'year > {y} and source == {s}' -p y=2010 --param s=acl kb "alpha beta"
expect_status 0
rag-search -k 5 --fields id --filter 'year > 2010 and source == "acl"' kb "alpha beta" > want.jsonl
cmp -s want.jsonl "$out" || fail "--param gives other hits than the literal values"

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
