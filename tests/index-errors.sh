#!/bin/sh
# rag-index: every kind of bad input with its exact message and status;
# a bad record leaves the store at its last commit; usage errors.
. "${top_srcdir:-.}/tests/lib.sh"

# The ids in store $1, on one line.
ids()
{
	rag-search --all --fields id "$1" | python3 -c 'import json,sys
print(" ".join(str(json.loads(l)["id"]) for l in sys.stdin))'
}

printf '{"id":"ok","text":"fine"}\n' > good.jsonl
rag-index -q kb good.jsonl || fail "indexing good.jsonl failed"

# Each bad record: the file, the line, what is wrong; status 1; nothing
# of the run is kept.
bad()
{
	printf '{"id":"new","text":"dropped"}\n%s\n' "$1" > bad.jsonl
	run rag-index kb bad.jsonl
	expect_status 1
	expect_err "rag-index: bad.jsonl:2$2"
	check '[ "$(ids kb)" = ok ]' "a bad record left changes in the store: $(ids kb)"
}
bad '[1,2]' ': expected a JSON object'
bad '{"id":"a" "text":"x"}' ":11: invalid JSON: expected ',' or '}' in an object, found '\"'"
bad '{"text":"no id"}' ': record has no "id"'
bad '{"id":[1],"text":"x"}' ': "id" is not a string or an integer'
bad '{"id":1.5,"text":"x"}' ': "id" is not a string or an integer'
bad '{"id":"","text":"x"}' ': "id" is empty'
bad '{"id":"a\u0000b","text":"x"}' ': "id" holds a NUL character'
bad '{"id":"x"}' ': record has no "text"'
bad '{"id":"x","text":null}' ': "text" is not a string'
bad '{"id":"x","text":["a"]}' ': "text" is not a string'
bad '{"id":"x","text":"t","doc":{"a":1}}' ': "doc" is not a string or an integer'
bad "$(printf '{"id":"x","text":"caf\351"}')" ':22: invalid UTF-8'
# The configured field names are the ones named.
printf '{"id":"x","text":"t"}\n' > fields.jsonl
run rag-index --id-field docid kb fields.jsonl
expect_status 1
expect_err 'rag-index: fields.jsonl:1: record has no "docid"'
run rag-index --text-field contents kb fields.jsonl
expect_err 'rag-index: fields.jsonl:1: record has no "contents"'
printf '{"id":"x","text":"t","d":true}\n' > docf.jsonl
run rag-index --replace-docs --doc-field d kb docf.jsonl
expect_err 'rag-index: docf.jsonl:1: "d" is not a string or an integer'
# Standard input is named <stdin>; blank lines count.
run 'printf "{\"id\":\"s\",\"text\":\"t\"}\n\n{oops}\n" | rag-index kb'
expect_status 1
expect_err "rag-index: <stdin>:3:2: invalid JSON: expected a string key, found 'o'"
run 'printf "{\"id\":\"s\",\"text\":\"t\"}\n" | rag-index kb good.jsonl - bad.jsonl'
expect_status 1
expect_err 'rag-index: bad.jsonl:2:22: invalid UTF-8'
check '[ "$(ids kb)" = ok ]' "a failed run left changes in the store: $(ids kb)"
# A file that cannot be read stops the run too.
run rag-index kb good.jsonl nope.jsonl
expect_status 1
expect_err 'rag-index: nope.jsonl: cannot open: No such file or directory'
run rag-index kb .
expect_status 1
expect_err_has 'rag-index: .: '

# --skip-bad: reported, counted, left out; the rest is kept; status 0.
cat > mixed.jsonl <<'EOF'
{"id":"m1","text":"one"}
{"text":"no id"}
[1]
{"id":"m2","text":"two"}
{"id":"m3","text":3}
EOF
run rag-index --skip-bad --stats kb mixed.jsonl nope.jsonl
expect_status 0
expect_err_has 'rag-index: mixed.jsonl:2: record has no "id"
rag-index: mixed.jsonl:3: expected a JSON object
rag-index: mixed.jsonl:5: "text" is not a string
rag-index: nope.jsonl: cannot open: No such file or directory
rag-index: left out 4 bad records (--skip-bad)'
check '[ "$(jq -c "[.added, .skipped]" "$out")" = "[2,4]" ]' "--skip-bad stats: $(cat "$out")"
check '[ "$(ids kb)" = "ok m1 m2" ]' "--skip-bad kept: $(ids kb)"
# -q keeps the count of records left out, and drops the summary.
run rag-index -q --skip-bad kb mixed.jsonl
expect_status 0
expect_err_has 'rag-index: left out 3 bad records (--skip-bad)'
check '! grep -q "added" "$err"' "-q printed the summary"

# --delete: bad lines.
printf 'ok\n{"id":[1]}\n' > del.txt
run rag-index --delete kb del.txt
expect_status 1
expect_err 'rag-index: del.txt:2: "id" is not a string or an integer'
check '[ "$(ids kb)" = "ok m1 m2" ]' "a failed --delete deleted: $(ids kb)"
printf 'ok\n{"idx":1}\n' > del2.txt
run rag-index --delete kb del2.txt
expect_err 'rag-index: del2.txt:2: record has no "id"'
printf 'ok\nb\377d\n{"id":""}\n' > del3.txt
run rag-index --delete kb del3.txt
expect_err 'rag-index: del3.txt:2: invalid UTF-8'
run rag-index --delete --skip-bad --stats kb del3.txt
expect_status 0
expect_err_has 'rag-index: del3.txt:3: "id" is empty'
check '[ "$(jq .deleted "$out")" = 1 ]' "--delete --skip-bad: $(cat "$out")"

# A store that is not there: only adding records creates one.
run 'rag-index --delete nostore < /dev/null'
expect_status 1
expect_err_has 'rag-index: nostore: '
check '[ ! -e nostore ]' "--delete created a store"
run rag-index --compact nostore
expect_status 1
check '[ ! -e nostore ]' "--compact created a store"
run rag-index --check nostore
expect_status 1
expect_err_has 'rag-index: nostore: '
# --check finds damage, names the file, and exits 1.
rag-index -q dmg good.jsonl
for f in dmg/*; do
	case $f in *LOCK*|*lock*) continue ;; esac
	[ -f "$f" ] && [ -s "$f" ] || continue
	cp -r dmg dmg2
	g="dmg2/${f#dmg/}"
	python3 -c 'import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[len(b) // 2] ^= 0x55
open(p, "wb").write(b)' "$g"
	run rag-index --check dmg2
	expect_status 1
	expect_err_has "rag-index: dmg2/"
	rm -rf dmg2
done

# Usage errors: status 2, a message and a pointer to --help.
usage()
{
	run "rag-index $1"
	expect_status 2
	expect_err "rag-index: $2
Try 'rag-index --help' for more information."
}
usage '' 'no store given'
usage '--bogus kb' 'unknown option "--bogus"'
usage '-x kb' 'unknown option "-x"'
usage 'kb --batch' 'option "--batch" needs a value'
usage '--batch 0 kb' '--batch must be at least 1, not 0'
usage '--batch x kb' '--batch needs a whole number, not "x"'
usage '--k1 -1 kb' '--k1 must be at least 0, not -1'
usage '--k1 nan kb' '--k1 needs a number, not "nan"'
usage '--b 1.5 kb' '--b must be between 0 and 1, not 1.5'
usage '--b x kb' '--b needs a number, not "x"'
usage '--analyzer klingon kb' 'unknown analyzer "klingon" (use english, lucene, simple or none)'
usage '--id-field= kb' 'field names cannot be empty'
usage '--check kb good.jsonl' '--check cannot be combined with FILE operands'
usage '--check --compact kb' '--check cannot be combined with --compact'
usage '--delete --replace-docs kb' '--delete cannot be combined with --replace-docs'
usage '""' 'the store cannot be an empty name'
# --index-field takes a field path, nothing else; no store is made, and
# the settings of one that exists stay as they were.
cp kb/MANIFEST manifest.before
bad_path()
{
	for st in newfields kb; do
		run rag-index --index-field "$1" "$st" good.jsonl
		expect_status 2
		expect_err "rag-index: --index-field: \"$1\" is not a field path (a name, a.b, a[\"b\"] or a[0])
Try 'rag-index --help' for more information."
	done
	run rag-index -q --index-field year "--index-field=$1" newfields good.jsonl
	expect_status 2
	expect_err_has "\"$1\" is not a field path"
	check '[ ! -e newfields ]' "--index-field \"$1\" made a store"
	check 'cmp -s kb/MANIFEST manifest.before' "--index-field \"$1\" changed the settings of kb"
}
bad_path 'year +'
bad_path '$meta'
bad_path ''
bad_path '$meta[0]'
if [ "${RAG_VALGRIND:-0}" != 1 ]; then
	for p in 'a..b' 'a[-1]' 'not' '1' '{p}' 'year == 1' '$meta == 1'; do
		bad_path "$p"
	done
fi
# At most 32 fields, of at most 255 bytes each; over a store's fields too.
many=
for i in $(seq 1 33); do many="$many --index-field f$i"; done
run "rag-index -q $many manyfields good.jsonl"
expect_status 2
expect_err "rag-index: --index-field: at most 32 fields
Try 'rag-index --help' for more information."
check '[ ! -e manyfields ]' "33 indexed fields made a store"
run rag-index -q --index-field "$(printf '%0256d' 0 | tr 0 a)" manyfields good.jsonl
expect_status 2
expect_err "rag-index: --index-field: the path is longer than 255 bytes
Try 'rag-index --help' for more information."
# 31 short ones and one of 255 bytes: a store with 32 fields
run "rag-index -q --index-field $(printf '%0255d' 0 | tr 0 a) $(echo "$many" | cut -d' ' -f1-63) manyfields good.jsonl"
expect_status 0
check '[ "$(tail -c +33 manyfields/MANIFEST | jq ".settings.fields | length")" = 32 ]' "the store with 32 fields has $(tail -c +33 manyfields/MANIFEST | jq -c .settings.fields)"
cp manyfields/MANIFEST manifest.before
run 'rag-index -q --index-field g1 --index-field g2 --index-field f1 --index-field g3 manyfields < /dev/null'
expect_status 2
expect_err_has 'rag-index: manyfields: a store indexes at most 32 fields'
check 'cmp -s manyfields/MANIFEST manifest.before' "adding fields beyond 32 changed the store's settings"
check '[ "$(ids kb)" = "m1 m2" ]' "a usage error changed the store: $(ids kb)"

# A new store whose first batch fails is no store: no manifest, no
# segment left; the lock file stays for any writer waiting on it, and the
# next writer creates the store.
printf '%s\n' '{"id":"n1","text":"one"}' 'not json' > half.jsonl
run 'rag-index newkb < half.jsonl'
expect_status 1
check '[ ! -e newkb/MANIFEST ] && [ -z "$(ls newkb | grep -v "^LOCK$")" ]' \
	"a failed first batch left files: $(ls newkb | tr '\n' ' ')"
run 'rag-search newkb one'
expect_status 1
expect_err_has 'not a store'
run 'rag-index -q newkb < good.jsonl'
expect_status 0
check '[ -e newkb/MANIFEST ]' 'the next writer did not create the store'

finish
