#!/bin/sh
# rag-index: records in and back out byte for byte, upsert counts, deletes,
# document replacement, compaction, batches, settings, the writer's lock.
. "${top_srcdir:-.}/tests/lib.sh"

command -v jq > /dev/null || { echo "jq is needed (apt-get install jq)"; exit 77; }

# The value of a key of the --stats object in $out.
stat()
{
	jq -r ".$1" "$out"
}

# Records with metadata of every kind, written with white space that the
# store drops, and numbers no double holds.
cat > recs.jsonl <<'EOF'
{"id": "a1", "text": "The quick brown fox", "doc": "d1", "meta": {"k": [1, 2.50, "x  y"]}, "n": 123456789012345678901}
{"id":2,"text":"Lazy dogs sleep all day","doc":"d1","s":"caf\u00e9 \"q\"","e":1E5}
{"id":"b1","text":"A quick fox jumps over quick dogs","doc":"d2","tags":["x",null,true]}
EOF
compact='{"id":"a1","text":"The quick brown fox","doc":"d1","meta":{"k":[1,2.50,"x  y"]},"n":123456789012345678901}
{"id":2,"text":"Lazy dogs sleep all day","doc":"d1","s":"caf\u00e9 \"q\"","e":1E5}
{"id":"b1","text":"A quick fox jumps over quick dogs","doc":"d2","tags":["x",null,true]}'

run rag-index --stats kb recs.jsonl
expect_status 0
check '[ "$(jq -c "{added, updated, unchanged, deleted, skipped, records}" "$out")" = "{\"added\":3,\"updated\":0,\"unchanged\":0,\"deleted\":0,\"skipped\":0,\"records\":3}" ]' \
	"first index: $(cat "$out")"
check '[ "$(stat store)" = kb ] && [ "$(stat segments)" -ge 1 ] && [ "$(stat bytes)" -gt 0 ]' \
	"--stats lacks store, segments or bytes: $(cat "$out")"
check 'jq -e ".seconds | type == \"number\" and . >= 0" "$out" > /dev/null' "--stats seconds is not a number"
expect_err_has 'rag-index: kb: 3 added, 0 updated, 0 unchanged, 0 deleted, '
check 'grep -Eq "^rag-index: kb: 3 added, 0 updated, 0 unchanged, 0 deleted, [0-9]+\.[0-9][0-9] s$" "$err"' \
	"summary line is not as documented"
# Records come back exactly as written, less white space between tokens.
run rag-search --all kb
expect_status 0
expect_out "$compact"
run rag-index --check kb
expect_status 0
expect_out 'kb: ok, 3 records'
expect_err ''
run rag-index --check -q kb
expect_status 0
check '[ ! -s "$out" ]' "--check -q printed something"

# The same records again: unchanged, and nothing is written.
run rag-index --stats kb recs.jsonl
check '[ "$(jq -c "[.added, .updated, .unchanged]" "$out")" = "[0,0,3]" ]' "re-index: $(cat "$out")"
expect_err_has 'kb: 0 added, 0 updated, 3 unchanged, 0 deleted, '
# White space alone does not change a record; new text does; a new id is added.
cat > recs2.jsonl <<'EOF'
{"id":"a1","text":"The quick brown fox","doc":"d1","meta":{"k":[1,2.50,"x  y"]},"n":123456789012345678901}
{"id":2,"text":"Lazy dogs sleep all night","doc":"d1","s":"caf\u00e9 \"q\"","e":1E5}
{"id":"c1","text":"Brand new","doc":"d3"}
EOF
run rag-index --stats kb recs2.jsonl
check '[ "$(jq -c "[.added, .updated, .unchanged, .records]" "$out")" = "[1,1,1,4]" ]' "upsert: $(cat "$out")"
run rag-search --all --fields id,text kb
expect_out '{"id":"a1","text":"The quick brown fox"}
{"id":"b1","text":"A quick fox jumps over quick dogs"}
{"id":2,"text":"Lazy dogs sleep all night"}
{"id":"c1","text":"Brand new"}'
# A "hash" field decides: the same hash is unchanged even with other text.
printf '{"id":"h","text":"one","hash":"abc"}\n' > h1.jsonl
printf '{"id":"h","text":"two","hash":"abc"}\n' > h2.jsonl
printf '{"id":"h","text":"two","hash":"abd"}\n' > h3.jsonl
run 'rag-index -q hs h1.jsonl && rag-index --stats hs h2.jsonl'
check '[ "$(jq -c "[.added, .updated, .unchanged]" "$out")" = "[0,0,1]" ]' "same hash: $(cat "$out")"
run rag-index --stats hs h3.jsonl
check '[ "$(jq -c "[.added, .updated, .unchanged]" "$out")" = "[0,1,0]" ]' "new hash: $(cat "$out")"
run rag-search --all hs
expect_out '{"id":"h","text":"two","hash":"abd"}'
# --id-field and --text-field; an integer id is its decimal text.
printf '{"docid":17,"body":"seventeen apples"}\n{"docid":"18","body":"eighteen pears"}\n' > other.jsonl
run rag-index -q --id-field docid --text-field body other other.jsonl
expect_status 0
expect_err ''
run 'printf "17\n" | rag-index --delete --id-field docid --stats other'
check '[ "$(stat deleted)" = 1 ] && [ "$(stat records)" = 1 ]' "integer id not deleted by its text: $(cat "$out")"

# --delete: plain ids and NDJSON records; ids that are not there are no error.
printf '  a1  \n\n{"id":2,"text":"ignored"}\nnot-there\n' > del.txt
run rag-index --delete --stats kb del.txt
expect_status 0
check '[ "$(jq -c "[.added, .deleted, .records]" "$out")" = "[0,2,2]" ]' "--delete: $(cat "$out")"
expect_err_has 'kb: 0 added, 0 updated, 0 unchanged, 2 deleted, '
run rag-search --all --fields id kb
expect_out '{"id":"b1"}
{"id":"c1"}'
run rag-search kb fox
check '[ "$(field id)" = b1 ]' "a deleted record is still found: $(cat "$out")"
# Hits piped back delete what was found.
run 'rag-search kb brand | rag-index --delete --stats kb'
check '[ "$(stat deleted)" = 1 ] && [ "$(stat records)" = 1 ]' "deleting hits: $(cat "$out")"

# --replace-docs: a document's chunks that the input no longer has go.
cat > docs1.jsonl <<'EOF'
{"id":"d1#1","doc":"d1","text":"alpha one"}
{"id":"d1#2","doc":"d1","text":"alpha two"}
{"id":"d1#3","doc":"d1","text":"alpha three"}
{"id":"d2#1","doc":"d2","text":"beta one"}
{"id":"d2#2","doc":"d2","text":"beta two"}
{"id":"loose","text":"no document"}
EOF
cat > docs2.jsonl <<'EOF'
{"id":"d1#1","doc":"d1","text":"alpha one"}
{"id":"d1#2","doc":"d1","text":"alpha two, changed"}
{"id":"d3#1","doc":"d3","text":"gamma one"}
EOF
run rag-index -q rd docs1.jsonl
run rag-index --replace-docs --stats rd docs2.jsonl
expect_status 0
check '[ "$(jq -c "[.added, .updated, .unchanged, .deleted, .records]" "$out")" = "[1,1,1,1,6]" ]' \
	"--replace-docs: $(cat "$out")"
run rag-search --all --fields id rd
expect_out '{"id":"d1#1"}
{"id":"d2#1"}
{"id":"d2#2"}
{"id":"loose"}
{"id":"d1#2"}
{"id":"d3#1"}'
# Without --replace-docs the stale chunk stays.
run rag-index -q rd2 docs1.jsonl
run rag-index --stats rd2 docs2.jsonl
check '[ "$(jq -c "[.deleted, .records]" "$out")" = "[0,7]" ]' "plain re-index deleted: $(cat "$out")"
# Batches never split a document under --replace-docs, and a document
# that spans batches still loses only its stale chunks.
run rag-index -q rd3 docs1.jsonl
run rag-index --replace-docs --batch 1 --stats rd3 docs2.jsonl
check '[ "$(jq -c "[.deleted, .records]" "$out")" = "[1,6]" ]' "--replace-docs --batch 1: $(cat "$out")"
# Chunks from rag-chunk: a shrunk file loses its last chunk.
printf 'First paragraph here.\n\nSecond paragraph here.\n\nThird paragraph here.\n' > doc.txt
run 'rag-chunk --size 25 doc.txt | rag-index --replace-docs --stats rc'
check '[ "$(stat added)" = 3 ]' "rag-chunk chunks: $(cat "$out")"
printf 'First paragraph here.\n\nSecond paragraph here.\n' > doc.txt
run 'rag-chunk --size 25 doc.txt | rag-index --replace-docs --stats rc'
check '[ "$(jq -c "[.added, .updated, .unchanged, .deleted, .records]" "$out")" = "[0,0,2,1,2]" ]' \
	"shrunk document: $(cat "$out")"
run rag-search --all --fields id rc
expect_out '{"id":"doc.txt#1"}
{"id":"doc.txt#2"}'

# Batches: a bad record drops only what came after the last commit.
python3 -c '
for i in range(1, 8):
    print("{\"id\":\"r%d\",\"text\":\"word%d\"}" % (i, i))
print("{\"id\":\"r8\"}")' > batches.jsonl
run rag-index --batch 3 bt batches.jsonl
expect_status 1
expect_err 'rag-index: batches.jsonl:8: record has no "text"'
run rag-search --all --fields id bt
expect_out '{"id":"r1"}
{"id":"r2"}
{"id":"r3"}
{"id":"r4"}
{"id":"r5"}
{"id":"r6"}'
run rag-index --check bt
expect_out 'bt: ok, 6 records'

# --compact: one segment, no tombstones, the same hits and scores.
python3 -c '
import random
random.seed(7)
words = ["w%d" % i for i in range(40)]
for i in range(200):
    n = random.randint(1, 12)
    print("{\"id\":\"c%d\",\"text\":\"%s\"}" % (i, " ".join(random.choice(words) for _ in range(n))))' > many.jsonl
run rag-index --batch 17 --stats cp many.jsonl
check '[ "$(stat records)" = 200 ] && [ "$(stat segments)" -gt 1 ]' "batched store: $(cat "$out")"
rag-search -k 20 cp w1 w2 "w3 w4" "w5 w6 w7" w39 > before.out
run rag-index --compact --stats cp
expect_status 0
check '[ "$(jq -c "[.records, .segments]" "$out")" = "[200,1]" ]' "--compact: $(cat "$out")"
rag-search -k 20 cp w1 w2 "w3 w4" "w5 w6 w7" w39 > after.out
check 'cmp -s before.out after.out && [ -s after.out ]' "--compact changed the hits"
# Compaction reclaims the space of deleted records.
run 'rag-index --stats cp < /dev/null'
bytes_before=$(stat bytes)
seq 0 149 | sed 's/^/c/' > del150.txt
run rag-index --delete -q cp del150.txt
run rag-index --compact --stats cp
check '[ "$(stat records)" = 50 ] && [ "$(stat bytes)" -lt "$bytes_before" ]' \
	"--compact did not reclaim space: $bytes_before -> $(stat bytes)"
run rag-index --check cp
expect_out 'cp: ok, 50 records'
# --compact with files compacts after reading them.
printf '{"id":"c999","text":"w1"}\n' > one.jsonl
run rag-index --compact --stats cp one.jsonl
check '[ "$(jq -c "[.added, .records, .segments]" "$out")" = "[1,51,1]" ]' "--compact FILE: $(cat "$out")"

# Settings are fixed at creation; a mismatch says what differs.
run rag-index -q --analyzer none --k1 1.2 --b 0.75 st recs.jsonl
expect_status 0
run rag-search st "The"
check '[ "$(field id)" = a1 ]' "--analyzer none does not keep stop words as terms: $(cat "$out")"
run rag-search st "the"
expect_status 0
check '[ ! -s "$out" ]' "--analyzer none found a word of another case"
run rag-index --analyzer english st recs.jsonl
expect_status 2
expect_err_has 'analyzer'
run rag-index --k1 0.9 st recs.jsonl
expect_status 2
expect_err_has 'k1'
run rag-index --b 0.4 st recs.jsonl
expect_status 2
expect_err_has 'b'
# The store's own settings are used when none are given, and equal ones are fine.
run rag-index --stats --analyzer none --k1 1.2 st recs.jsonl
expect_status 0
check '[ "$(stat unchanged)" = 3 ]' "matching settings: $(cat "$out")"
run rag-index --stats st recs.jsonl
expect_status 0

# The writer's lock: a second writer fails under --no-wait, waits otherwise.
mkfifo fifo
timeout 60 rag-index -q lk < fifo > /dev/null 2> lk.err &
holder=$!
exec 3<> fifo
printf '{"id":"l1","text":"held"}\n' >&3
# Wait until the holder has the store open (it exists once the lock is taken).
i=0
while [ ! -d lk ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
sleep 0.5
run 'rag-index --no-wait lk < /dev/null 3>&-'
expect_status 1
check '[ -s "$err" ]' "--no-wait said nothing"
timeout 60 rag-index -q lk one.jsonl > /dev/null 2> waiter.err 3>&- &
waiter=$!
sleep 1
check 'kill -0 $waiter 2> /dev/null' "a second writer did not wait for the lock"
exec 3>&-
wait $holder
rc=$?
check '[ $rc = 0 ]' "the writer holding the lock failed: $(cat lk.err)"
wait $waiter
rc=$?
check '[ $rc = 0 ]' "the waiting writer failed: $(cat waiter.err)"
run rag-search --all --fields id lk
expect_out '{"id":"l1"}
{"id":"c999"}'
# Readers never wait for the writer.
mkfifo fifo2
timeout 60 rag-index -q lk < fifo2 > /dev/null 2>&1 &
holder=$!
exec 4<> fifo2
printf '{"id":"l2","text":"pending"}\n' >&4
sleep 0.5
run rag-search --all --fields id lk
expect_status 0
expect_out '{"id":"l1"}
{"id":"c999"}'
exec 4>&-
wait $holder
rc=$?
check '[ $rc = 0 ]' "a writer with a reader beside it failed"

# Progress goes to standard error only when asked, and is cleared.
run 'rag-index --progress pg many.jsonl'
expect_status 0
check 'grep -q "records, .*/s" "$err"' "--progress shows no progress line"
run 'rag-index --no-progress -q pg2 many.jsonl'
expect_err ''
run 'rag-index -q --progress pg3 many.jsonl'
expect_err ''

# --help and --version.
run rag-index --help
expect_status 0
expect_out_has 'Usage: rag-index [OPTION]... STORE [FILE]...'
run rag-index --version
expect_status 0
expect_out_has 'rag-index (ragkit) '

finish
