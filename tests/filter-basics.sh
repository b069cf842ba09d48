#!/bin/sh
# rag-filter: matching records pass byte for byte; -v, -c; several inputs
# and -; --param; exit statuses; the semantics of missing fields, nulls,
# types, numbers and strings; a large input, streamed; and random
# expressions over random records checked against a model in Python
# (tests/filtercheck.py).
. "${top_srcdir:-.}/tests/lib.sh"

small=0
[ "${RAG_VALGRIND:-0}" = 1 ] && small=1
# The system's python starts fastest; any python3 will do.
py=/usr/bin/python3
[ -x "$py" ] || py=python3

# The lines $2... (numbers, as sed takes them) of file $1.
lines()
{
	f=$1
	shift
	for n in "$@"; do sed -n "${n}p" "$f"; done
}

# stdout is exactly the file $1.
expect_file()
{
	cmp -s "$out" "$1" || {
		fail "output differs from $1: $last_cmd"
		diff "$1" "$out" | head -n 20 >&2
	}
}

# ---- byte for byte ----
# Odd spacing, key orders, escapes, repeated keys, numbers of every form,
# a tab before a record and a CR after one: what matches comes out as it
# went in.  Blank lines are no records.
{
	printf '%s\n' '{"id":1,"year":2021,"title":"Deep  Nets"}'
	printf '%s\n' '   {  "year" : 2019 ,"id":2 }   '
	printf '%s\n' '{"id":3,"year":2022.0,"title":"caf\u00e9 \ud83d\ude00 \/ \"q\"","big":123456789012345678901234567890,"r":1.50e1,"neg":-0}'
	printf '%s\n' '{"title":"x","id":4,"year":"2021"}'
	printf '\t{"id":5,"year":2023,"nested":{"a":[1,{"b":null}],"e":{}},"id":5, "year" :2024E0}\r\n'
	printf '\n   \n'
	printf '%s\n' '{"id":6,"year":null,"title":""}'
	printf '%s\n' '{"id":7,"year":1e3,"title":"caf\u00e9","ünï":"ß"}'
	printf '%s\n' '{"id":8,"year":9223372036854775807,"tags":["a",null,true,-1.25e-300]}'
} > odd.jsonl
run rag-filter 'year >= 2020' odd.jsonl
expect_status 0
expect_err ''
lines odd.jsonl 1 3 5 10 > want
expect_file want
# -v: the other records, blank lines still left out.
run rag-filter -v 'year >= 2020' odd.jsonl
expect_status 0
lines odd.jsonl 2 4 8 9 > want
expect_file want
run rag-filter --invert-match 'year >= 2020' odd.jsonl
expect_file want
# Escaped and plain text are the same string.
run rag-filter 'title == "café"' odd.jsonl
lines odd.jsonl 9 > want
expect_file want
run rag-filter "title like 'caf\\u00e9 %' and title =~ \"\\\"q\\\"\$\"" odd.jsonl
lines odd.jsonl 3 > want
expect_file want
run rag-filter '$meta["ünï"] == "\u00df"' odd.jsonl
lines odd.jsonl 9 > want
expect_file want
# A repeated key: the last value counts.
run rag-filter 'year == 2024' odd.jsonl
lines odd.jsonl 5 > want
expect_file want
run rag-filter 'year == 2023' odd.jsonl
expect_status 1
check '[ ! -s "$out" ]' "a record matched on the value of a repeated key it replaced"
run rag-filter 'nested.a[1].b is null and exists nested.a[1].b and not exists nested.a[2]' odd.jsonl
lines odd.jsonl 5 > want
expect_file want
run rag-filter 'tags[3] < 0 and tags[1] is null and tags[2] and array_length(tags) == 4' odd.jsonl
lines odd.jsonl 10 > want
expect_file want
# The last line without its newline gets one; nothing else changes.
run 'printf "{\"a\":1}\n  {\"a\" :1 }" | rag-filter "a == 1"'
expect_status 0
expect_out '{"a":1}
  {"a" :1 }'
# Long lines pass whole.
"$py" -c 'import json
print(json.dumps({"id": "long", "text": "word " * 200000}))
print(json.dumps({"id": "short"}))' > long.jsonl
run rag-filter 'id == "long"' long.jsonl
lines long.jsonl 1 > want
expect_file want

# ---- -c ----
run rag-filter -c 'year >= 2020' odd.jsonl
expect_status 0
expect_out 4
run rag-filter -c -v 'year >= 2020' odd.jsonl
expect_status 0
expect_out 4
run rag-filter -vc 'exists id' odd.jsonl
expect_status 1
expect_out 0
run rag-filter --count 'year < 1000' odd.jsonl
expect_status 1
expect_out 0
run rag-filter -c 'year < 1000' < /dev/null
expect_status 1
expect_out 0
run rag-filter -c 'id > 0' odd.jsonl odd.jsonl
expect_out 16

# ---- exit statuses, without -c ----
run rag-filter 'year < 1000' odd.jsonl
expect_status 1
expect_err ''
check '[ ! -s "$out" ]' "output without a match: $(head -c 200 "$out")"
run rag-filter -v 'exists id' odd.jsonl
expect_status 1
check '[ ! -s "$out" ]' "-v output without a match"
run 'rag-filter "a == 1" < /dev/null'
expect_status 1
run 'printf "\n \n\t\r\n" | rag-filter -v "a == 1"'
expect_status 1
check '[ ! -s "$out" ]' "blank lines were written"

# ---- several inputs, and - ----
printf '%s\n' '{"f":"a","k":1}' '{"f":"a","k":2}' > a.jsonl
printf '%s\n' '{"f":"b","k":1}' > b.jsonl
printf '%s\n' '{"f":"in","k":1}' '{"f":"in","k":3}' > in.jsonl
: > empty.jsonl
run 'rag-filter "k == 1" a.jsonl - empty.jsonl b.jsonl < in.jsonl'
expect_status 0
expect_out '{"f":"a","k":1}
{"f":"in","k":1}
{"f":"b","k":1}'
run 'rag-filter -v "k == 1" - a.jsonl < in.jsonl'
expect_out '{"f":"in","k":3}
{"f":"a","k":2}'
run 'rag-filter "k == 1" < in.jsonl'
expect_out '{"f":"in","k":1}'
# A match in the last file only is a match.
run rag-filter 'f == "b"' a.jsonl empty.jsonl b.jsonl
expect_status 0
expect_out '{"f":"b","k":1}'
run rag-filter -c 'k >= 1' a.jsonl b.jsonl empty.jsonl
expect_out 3
run rag-filter 'k == 1' empty.jsonl empty.jsonl
expect_status 1
# A file named like an option, after --.
cp b.jsonl ./-v
run rag-filter -- 'k == 1' -v
expect_status 0
expect_out '{"f":"b","k":1}'

# ---- --param ----
run rag-filter -p y=2021 'year == {y}' odd.jsonl
lines odd.jsonl 1 > want
expect_file want
run rag-filter -p 'y="2021"' 'year == {y}' odd.jsonl
lines odd.jsonl 4 > want
expect_file want
run rag-filter --param 'y=2022.5' --param=z=2024 '{y} <= year <= { z }' odd.jsonl
lines odd.jsonl 5 > want
expect_file want
# Plain text is a string, spaces and all; JSON text is JSON.
run rag-filter -p 't=Deep  Nets' 'title == {t}' odd.jsonl
lines odd.jsonl 1 > want
expect_file want
run rag-filter -p 't="caf\u00e9"' 'title == {t}' odd.jsonl
lines odd.jsonl 9 > want
expect_file want
run rag-filter -p 't=' 'title == {t}' odd.jsonl
lines odd.jsonl 8 > want
expect_file want
run rag-filter -p 'ys=[2019, 1000, "2021"]' 'year in {ys}' odd.jsonl
lines odd.jsonl 2 4 9 > want
expect_file want
run rag-filter -p 'ys=[2019, 1000, "2021"]' 'year not in {ys}' odd.jsonl
lines odd.jsonl 1 3 5 10 > want
expect_file want
run rag-filter -p 'n=null' -p 'b=true' 'year == {n} or {b} and id == 2' odd.jsonl
lines odd.jsonl 2 > want
expect_file want
run rag-filter -p 'pat=%Nets' -p 'k=title' '$meta[{k}] like {pat}' odd.jsonl
lines odd.jsonl 1 > want
expect_file want
run rag-filter -p 'i=1' 'nested.a[{i}].b is null and exists nested.a[{i}]' odd.jsonl
lines odd.jsonl 5 > want
expect_file want
# A later value wins; a parameter the expression does not use is fine.
run rag-filter -p y=1 -p y=2019 -p unused=x 'year == {y}' odd.jsonl
lines odd.jsonl 2 > want
expect_file want
run rag-filter -p 'big=9223372036854775807' 'year == {big}' odd.jsonl
lines odd.jsonl 10 > want
expect_file want

# ---- semantics, case by case ----
cat > sem.jsonl <<'EOF'
{"id":"missing"}
{"id":"null","x":null}
{"id":"one","x":1}
{"id":"one.0","x":1.0}
{"id":"1e0","x":1e0}
{"id":"str1","x":"1"}
{"id":"true","x":true}
{"id":"list","x":[1]}
{"id":"obj","x":{"k":1}}
{"id":"a","x":"a"}
{"id":"B","x":"B"}
{"id":"ab","x":"ab"}
{"id":"e-acute","x":"\u00e9"}
{"id":"z","x":"z"}
{"id":"max","x":9223372036854775807}
{"id":"max-1","x":9223372036854775806}
{"id":"2^63","x":9223372036854775808}
{"id":"min","x":-9223372036854775808}
{"id":"1e19","x":1e19}
{"id":"half","x":0.5}
EOF
# The ids of the records of sem.jsonl that EXPR ($1) selects are $2.
# Under valgrind, which takes a second to start a program, every third.
sel_n=0
sel()
{
	sel_n=$((sel_n + 1))
	[ "$small" = 1 ] && [ $((sel_n % 3)) != 1 ] && return 0
	rag-filter -- "$1" sem.jsonl > sel.out 2> sel.err
	st=$?
	got=$(sed 's/^{"id":"\([^"]*\)".*/\1/' sel.out | tr '\n' ' ')
	got=${got% }
	checks=$((checks + 1))
	if [ "$got" != "$2" ] || [ -s sel.err ] || [ "$st" != "$([ -n "$2" ] && echo 0 || echo 1)" ]; then
		failures=$((failures + 1))
		printf 'FAIL %s: %s\n  selected: %s\n  expected: %s\n  status %s, stderr: %s\n' \
			"$test_name" "$1" "$got" "$2" "$st" "$(head -c 300 sel.err)" >&2
	fi
}
# A comparison with a missing field, a null or another type is false,
# for != too; not flips.
sel 'x == 1' 'one one.0 1e0'
sel 'x != 1' 'max max-1 2^63 min 1e19 half'
sel 'not x == 1' 'missing null str1 true list obj a B ab e-acute z max max-1 2^63 min 1e19 half'
sel 'not (x != 1)' 'missing null one one.0 1e0 str1 true list obj a B ab e-acute z'
sel 'x == "1"' 'str1'
sel 'x == true' 'true'
sel 'x' 'true'
sel '!x' 'missing null one one.0 1e0 str1 list obj a B ab e-acute z max max-1 2^63 min 1e19 half'
sel 'x != true' ''
sel 'x == [1]' 'list'
sel 'x == [1.0]' 'list'
sel 'x != [2]' 'list'
sel 'x > 0 and x < 1' 'half'
sel 'x < 1' 'min half'
sel 'x >= "a"' 'a ab e-acute z'
sel 'x < "a"' 'str1 B'
sel 'x > "ab"' 'e-acute z'
sel '"a" < x <= "z"' 'ab z'
# Nulls and presence.
sel 'x is null' 'missing null'
sel 'x is not null' 'one one.0 1e0 str1 true list obj a B ab e-acute z max max-1 2^63 min 1e19 half'
sel 'exists x and x is null' 'null'
sel 'not exists x' 'missing'
# in and not in: false for missing and null; members compare as == does.
sel 'x in [1, "a", null]' 'one one.0 1e0 a'
sel 'x not in [1, "a", null, true, [1]]' 'str1 obj B ab e-acute z max max-1 2^63 min 1e19 half'
sel 'x in []' ''
sel 'x in [[1]]' 'list'
# Numbers: exactly, across integers and reals, near 2^63.
sel 'x == 9223372036854775807' 'max'
sel 'x > 9223372036854775806' 'max 2^63 1e19'
sel 'x == 9223372036854775808' '2^63'
sel 'x == 9223372036854775807.0' '2^63'
sel 'x < -9223372036854775807' 'min'
sel 'x == -9223372036854775808' 'min'
# Arithmetic: integers stay exact, overflow goes to reals, non-numbers
# give a missing value.
sel 'x - 1 == 9223372036854775806' 'max'
sel 'x + 1 == 9223372036854775807' 'max-1'
sel 'x + 1 > 9223372036854775807' 'max 2^63 1e19'
sel 'x * 2 == 18446744073709551614' 'max max-1 2^63'
sel '-x == 9223372036854775808' 'min'
sel '-x < 0' 'one one.0 1e0 max max-1 2^63 1e19 half'
sel 'x * x * x * x > 8e75' '1e19'
sel 'x * 1e290 is null' 'missing null str1 true list obj a B ab e-acute z max max-1 2^63 min 1e19'
sel '(x + 1) is null and exists x' 'null str1 true list obj a B ab e-acute z'
sel 'x + 0.5 == 1' 'half'
sel '2 * x - 1 == 1 and x == 1.0' 'one one.0 1e0'
# Keywords in any case, the symbols too, and precedence.
sel 'x == "a" OR x == "B" AND NOT x == "B"' 'a'
sel 'x == "a" || x == "B" && !(x == "B")' 'a'
sel '(x == "a" or x == "B") and x != "a"' 'B'
sel 'x == 1 and x == 1 and x == 1 and x == 1' 'one one.0 1e0'
sel 'x == "a" or x == "B" or x == "z" or x == "ab"' 'a B ab z'
sel 'x LIKE "a%" and x Like "%b" or x like "_"' 'str1 a B ab e-acute z'
sel 'array_contains(x, 1) or array_length(x) == 1' 'list'

# ---- a large input, streamed ----
n=200000
[ "$small" = 1 ] && n=20000
awk -v n=$n 'BEGIN { for (i = 0; i < n; i++) {
	t = i % 3 == 0 ? "x" : i % 3 == 1 ? "y" : "z"
	if (i % 11 == 0) v = "null"; else if (i % 2) v = (i % 1000) + 0.5; else v = i % 1000
	printf "{\"id\":%d,\"n\":%d,\"tag\":\"%s\",\"v\":%s,\"text\":\"record %d of the big file\"}\n", i, i % 97, t, v, i
} }' > big.jsonl
export bigexpr
bigexpr='n * 3 + 1 > 150 and tag in ["x", "y"] or v is null and id < 10000 or v >= 999.5 or tag == "z" and v < 1'
"$py" - "$n" > big.want <<'EOF'
import json, sys
n = 0
with open("big.jsonl", "rb") as f:
    for raw in f:
        r = json.loads(raw)
        v = r["v"]
        if (r["n"] * 3 + 1 > 150 and r["tag"] in ("x", "y")) or \
           (v is None and r["id"] < 10000) or (v is not None and v >= 999.5) or \
           (r["tag"] == "z" and v is not None and v < 1):
            sys.stdout.buffer.write(raw)
            n += 1
if n < 1000 or n > int(sys.argv[1]) - 1000:
    sys.exit("the big expression selects too few or too many records: %d" % n)
EOF
check '[ -s big.want ]' "the python selection of big.jsonl failed"
run 'cat big.jsonl | rag-filter "$bigexpr"'
expect_status 0
expect_file big.want
run rag-filter -c "$bigexpr" big.jsonl
expect_out "$(wc -l < big.want | tr -d ' ')"
run rag-filter -v -c "$bigexpr" big.jsonl
expect_out "$((n - $(wc -l < big.want)))"
# Streaming: with the input still open, the first records matched have
# been written (a program that reads all its input first would hang).
run "$py" - <<'EOF'
import subprocess, sys, threading, time
p = subprocess.Popen(["rag-filter", "k != 0"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
line = b'{"k":1,"pad":"' + b"x" * 100 + b'"}\n'
first, ended = threading.Event(), threading.Event()
def feed():
    # enough to fill any output buffer, then wait for output to show
    for i in range(4000):
        p.stdin.write(line)
    p.stdin.flush()
    first.wait(20)
    for i in range(1000):
        p.stdin.write(line)
    ended.set()
    p.stdin.close()
t = threading.Thread(target=feed)
t.start()
got = p.stdout.read(len(line))
early = not ended.is_set()
first.set()
rest = p.stdout.read()
t.join()
p.wait()
if got != line:
    sys.exit("first output: %r" % got[:80])
if not early:
    sys.exit("no output before the end of the input")
if got + rest != line * 5000 or p.returncode != 0:
    sys.exit("output of %d bytes, status %d" % (len(got + rest), p.returncode))
EOF
expect_status 0
expect_err ''

# ---- random expressions against the model ----
exprs=400
[ "$small" = 1 ] && exprs=16
run "$py" "$top_srcdir/tests/filtercheck.py" --seed 20261127 --records 150 --exprs $exprs
expect_status 0
check '[ ! -s "$out" ]' "rag-filter and the model disagree:
$(head -n 60 "$out")"
run "$py" "$top_srcdir/tests/filtercheck.py" --seed 7 --records 40 --exprs $((exprs / 4))
expect_status 0
check '[ ! -s "$out" ]' "rag-filter and the model disagree:
$(head -n 60 "$out")"

# ---- --help and --version ----
run rag-filter --help
expect_status 0
expect_out_has 'Usage: rag-filter [OPTION]... EXPR [FILE]...'
# A key with a NUL in it is read like any other.
printf '%s\n' '{"a\u0000b":1}' '{"a":1}' '{"a\u0000b":2}' > nulkey.jsonl
run rag-filter -c 'exists $meta["a\u0000b"]' nulkey.jsonl
expect_status 0
expect_out 2
run rag-filter '$meta["a\u0000b"] == 2' nulkey.jsonl
expect_status 0
expect_out '{"a\u0000b":2}'

run rag-filter --version
expect_status 0
expect_out_has 'rag-filter (ragkit) '

finish
