#!/bin/sh
# Vectors in the store: rag-index keeps them with an HNSW graph a segment,
# rag-search finds nearest neighbours (exact and through the graph), fuses
# them with BM25, filters inside the search, and never returns a deleted
# or replaced vector; mismatched models and dimensions are errors, and
# --check catches a damaged vector block or graph.
. "${top_srcdir:-.}/tests/lib.sh"

vc="$py $top_srcdir/tests/vectorcheck.py"

# ---- exact search equals brute force, for each metric ----
$vc gen 600 24 1 > recs.jsonl
$vc queries 20 24 2 > qs.jsonl
for metric in l2 ip cosine; do
	run rag-index -q --metric $metric --batch 250 kb-$metric recs.jsonl
	expect_status 0
	expect_err ""
	run "rag-search --mode vector --exact -k 10 kb-$metric < qs.jsonl > run-$metric.jsonl"
	expect_status 0
	$vc exact recs.jsonl qs.jsonl 10 $metric > truth-$metric.jsonl
	run $vc same-top run-$metric.jsonl truth-$metric.jsonl 10
	expect_status 0
	# the graph finds nearly all of them; a large ef all of them
	run "rag-search --mode vector -k 10 --ef 600 kb-$metric < qs.jsonl > ann-$metric.jsonl"
	expect_status 0
	run $vc recall ann-$metric.jsonl truth-$metric.jsonl 10
	r=$(cat "$out")
	check "[ \"$r\" = 1.0000 ]" "$metric: recall@10 at ef 600 over 600 records is $r, not 1"
	run "rag-search --mode vector -k 10 --ef 40 kb-$metric < qs.jsonl > ann40-$metric.jsonl"
	run $vc recall ann40-$metric.jsonl truth-$metric.jsonl 10
	r=$(cat "$out")
	check "[ $(awk -v r="$r" 'BEGIN { print (r >= 0.9) }') = 1 ]" "$metric: recall@10 at ef 40 is $r, under 0.9"
done

# scores: l2 hits carry minus the squared distance, best first
run 'rag-search --mode vector --exact -k 3 kb-l2 < qs.jsonl | head -n 3 > top3.jsonl'
run $py -c '
import json, sys
h = [json.loads(l) for l in open(sys.argv[1])]
assert [x["rank"] for x in h] == [1, 2, 3], h
assert h[0]["score"] >= h[1]["score"] >= h[2]["score"], h
assert all(x["score"] <= 0 for x in h), h
assert h[0]["qid"] == "q0" and "vector" in h[0]
' top3.jsonl
expect_status 0

# ---- several segments give what one compacted segment gives ----
run "rag-search --mode vector --exact -k 10 kb-l2 < qs.jsonl > before.jsonl"
run rag-index -q --compact kb-l2
expect_status 0
run 'ls kb-l2/*.rseg | wc -l'
expect_out 1
run "rag-search --mode vector --exact -k 10 kb-l2 < qs.jsonl > after.jsonl"
run cmp before.jsonl after.jsonl
expect_status 0
run rag-index --check kb-l2
expect_status 0

# ---- deletes and upserts never bring back a stale vector ----
head -n 1 qs.jsonl > q0.jsonl
first=$($py -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["top"][0][0])' truth-l2.jsonl)
run "echo $first | rag-index -q --delete kb-l2"
expect_status 0
for how in "--exact" "--ef 600"; do
	run "rag-search --mode vector $how -k 600 kb-l2 < q0.jsonl"
	check "[ $(grep -c "\"id\":\"$first\"" "$out") = 0 ]" "a deleted record comes back ($how)"
	expect_lines 599
done
# give r5 the query's own vector: it becomes the nearest, and its old vector is gone
$py -c '
import json, sys
q = json.loads(open(sys.argv[1]).readline())
print(json.dumps({"id": "r5", "text": "moved", "cat": 5, "vector": q["vector"], "model": "test:random"}))
' q0.jsonl > moved.jsonl
run rag-index -q kb-l2 moved.jsonl
expect_status 0
for how in "--exact" "--ef 100"; do
	run "rag-search --mode vector $how -k 1 kb-l2 < q0.jsonl"
	expect_out_has '"id":"r5","text":"moved"'
	run "rag-search --mode vector $how -k 600 kb-l2 < q0.jsonl"
	check "[ $(grep -c '"id":"r5"' "$out") = 1 ]" "r5 appears $(grep -c '"id":"r5"' "$out") times ($how)"
done
run rag-index -q --compact kb-l2
run 'rag-search --mode vector --ef 100 -k 1 kb-l2 < q0.jsonl'
expect_out_has '"id":"r5","text":"moved"'
run rag-index --check kb-l2
expect_status 0

# ---- filters inside the search ----
$vc gen 2000 16 3 --cats 100 > frecs.jsonl
$vc queries 15 16 4 > fqs.jsonl
run rag-index -q --metric l2 --index-field cat fkb frecs.jsonl
expect_status 0
# (the first three are searched exactly over the records they leave, the
# last by a walk of the graph: see rag-search(1))
for sel in "7" "0,1,2,3,4,5,6,7,8,9" "$(seq -s, 0 49)" "$(seq -s, 0 94)"; do
	n=$(echo "$sel" | tr , '\n' | wc -l)
	$vc exact frecs.jsonl fqs.jsonl 10 l2 --filter-cat "$sel" > ftruth.jsonl
	run "rag-search --mode vector -k 10 --filter 'cat in [$sel]' fkb < fqs.jsonl > frun.jsonl"
	expect_status 0
	run $vc recall frun.jsonl ftruth.jsonl 10
	r=$(cat "$out")
	check "[ $(awk -v r="$r" 'BEGIN { print (r >= 0.95) }') = 1 ]" "filter on $n of 100 categories: recall@10 $r"
	run $py -c '
import json, sys
keep = {int(c) for c in sys.argv[2].split(",")}
bad = [h["id"] for h in map(json.loads, open(sys.argv[1])) if h["cat"] not in keep]
sys.exit("hits outside the filter: %s" % bad[:5] if bad else 0)
' frun.jsonl "$sel"
	expect_status 0
done
# a filter on a field the store does not index: the first query asks the
# records the graph meets, the later ones the records once for all; and
# deleted records stay out either way
printf 'r7\nr107\n' | rag-index -q --delete fkb
$vc exact frecs.jsonl fqs.jsonl 10 l2 --filter-cat 7 --deleted r7,r107 > ftruth7.jsonl
run "rag-search --mode vector -k 10 --filter 'text like \"%category 7\"' fkb < fqs.jsonl > frun7.jsonl"
expect_status 0
run $vc recall frun7.jsonl ftruth7.jsonl 10
r=$(cat "$out")
check "[ $(awk -v r="$r" 'BEGIN { print (r >= 0.95) }') = 1 ]" "filter on a field not indexed: recall@10 $r"
run "grep -c '\"cat\":7,' frun7.jsonl"
expect_out 150

# ---- mismatches ----
$vc gen 3 8 5 --ids x > short.jsonl
run rag-index -q kb-l2 short.jsonl
expect_status 1
expect_err_has 'short.jsonl:1: record "x0" has a 8-dimensional vector; the store holds 24-dimensional vectors of "test:random"'
$vc gen 2 24 6 --ids y --model other:model > other.jsonl
run rag-index -q kb-l2 other.jsonl
expect_status 1
expect_err_has 'record "y0" has a vector of model "other:model"; the store holds vectors of "test:random"'
echo '{"id":"plain","text":"no vector here"}' > plain.jsonl
run rag-index -q kb-l2 plain.jsonl
expect_status 1
expect_err_has 'plain.jsonl:1: record "plain" has no vector'
run rag-index -q --lexical-ok mixed recs.jsonl plain.jsonl
expect_status 0
run rag-search --mode lexical mixed 'no vector here'
expect_out_has '"id":"plain"'
run rag-index -q --metric l2 kb-cosine
expect_status 2
expect_err_has 'the store was created with metric cosine, not l2'
echo '{"qid":"short","vector":[1,2,3]}' > badq.jsonl
run "rag-search --mode vector kb-l2 < badq.jsonl"
expect_status 2
expect_err_has "the query's vector has 3 components; the store holds 24-dimensional vectors"
$vc queries 1 24 9 | sed 's/}$/, "model": "other:model"}/' > otherq.jsonl
run "rag-search --mode vector kb-l2 < otherq.jsonl"
expect_status 2
expect_err_has "the query's vector is of model \"other:model\"; the store holds vectors of \"test:random\""
$vc queries 1 24 9 | sed 's/}$/, "model": "test:random"}/' > sameq.jsonl
run "rag-search --mode vector -k 1 kb-l2 < sameq.jsonl"
expect_status 0
expect_lines 1
run rag-search --mode vector kb-l2 'a text query'
expect_status 2
expect_err_has 'unknown provider in model "test:random"'
echo '{"id":"w","text":"words only"}' | rag-index -q lexonly
run rag-search --mode vector lexonly words
expect_status 2
expect_err_has 'the store holds no vectors: only --mode lexical can search it'
echo '{"id":"bad","text":"t","vector":[1,"x"]}' > badvec.jsonl
run rag-index -q newkb badvec.jsonl
expect_status 1
expect_err_has 'badvec.jsonl:1: "vector" component 2 is not a number'

# ---- hybrid: builtin:hash vectors from rag-embed, fused with BM25 ----
cat > docs.jsonl <<'J'
{"id":"a","text":"the quick brown fox jumps over the lazy dog"}
{"id":"b","text":"a fast auburn fox leaped above a sleepy hound"}
{"id":"c","text":"stock markets fell sharply on monday"}
{"id":"d","text":"the dog sleeps all day in the sun"}
J
run 'rag-embed < docs.jsonl | rag-index -q hy'
expect_status 0
run rag-search -k 4 hy 'lazy dog'
expect_status 0
expect_lines 4
cp "$out" hy.jsonl
run $py -c '
import json, sys
h = [json.loads(l) for l in open(sys.argv[1])]
assert h[0]["id"] in ("a", "d"), h[0]
for x in h:
    r = x["ranks"]
    assert set(r) <= {"lexical", "vector"} and r, x
    assert all(isinstance(v, int) and v >= 1 for v in r.values()), x
# with rrf, a hit in both lists scores the sum of its two parts
a = [x for x in h if x["id"] == "a"][0]
want = sum(1 / (60 + v) for v in a["ranks"].values())
assert abs(a["score"] - want) < 1e-12, (a, want)
' hy.jsonl
expect_status 0
run rag-search -k 4 --fusion weighted --alpha 0 hy 'lazy dog'
expect_status 0
run rag-search -k 4 --mode lexical hy 'lazy dog'
lex=$(grep -o '"id":"[a-d]"' "$out" | head -n 1)
run rag-search -k 1 --fusion weighted --alpha 0 hy 'lazy dog'
expect_out_has "$lex"
run rag-search -k 2 --mode vector hy 'lazy dog'
expect_status 0
expect_lines 2

# ---- real data: SIFT descriptors, with and without compact codes ----
sift="$shared_data/sift5k"
if [ -f "$sift/split_base4500.fvecs" ]; then
	$vc fvecs "$sift/split_base4500.fvecs" > sift.jsonl
	$vc fvecs-queries "$sift/split_query500.fvecs" > siftq.jsonl
	# (under valgrind, which makes building a graph slow, one of the three)
	quants="none f16 int8"
	[ "${RAG_VALGRIND:-0}" = 1 ] && quants=int8
	for q in $quants; do
		run rag-index -q --metric l2 --quantize $q sift-$q sift.jsonl
		expect_status 0
		run rag-index --check sift-$q
		expect_status 0
		run "rag-search --mode vector --fields id --ef 64 -k 10 sift-$q < siftq.jsonl > sift-run.jsonl"
		expect_status 0
		run $vc recall sift-run.jsonl "$sift/split_query500_groundtruth.ivecs" 10
		r=$(cat "$out")
		check "[ $(awk -v r="$r" 'BEGIN { print (r >= 0.98) }') = 1 ]" "sift5k, --quantize $q: recall@10 at ef 64 is $r, under 0.98"
	done
	# exact search is exact whatever the codes
	# (SIFT's components are integers, so two distances may tie at the tenth place)
	run "rag-search --mode vector --exact --fields id -k 10 sift-int8 < siftq.jsonl > sift-exact.jsonl"
	run $vc recall sift-exact.jsonl "$sift/split_query500_groundtruth.ivecs" 10
	r=$(cat "$out")
	check "[ $(awk -v r="$r" 'BEGIN { print (r >= 0.999) }') = 1 ]" "exact search on sift5k: recall@10 $r"
	run rag-index -q --quantize f16 sift-int8 < /dev/null
	expect_status 2
	expect_err_has 'the store was created with --quantize int8, not f16'
else
	echo "note: $sift is not there; the SIFT checks were skipped"
fi

# ---- a record's vector is kept as rows and comes back byte for byte ----
# Every fifth record writes its vector in a longer form (nine digits, an
# exponent), which the store keeps as text; the others, in the shortest
# form, are left out of the stored text and written back from the rows.
$vc gen 1500 48 7 > rt-src.jsonl
run $py - rt-src.jsonl <<'PY'
import json, struct, sys
def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]
short = open("rt.jsonl", "w")
long_ = open("rt-long.jsonl", "w")
for i, line in enumerate(open(sys.argv[1])):
    r = json.loads(line)
    text = json.dumps(r, separators=(",", ":"))
    long_text = text.replace(json.dumps(r["vector"], separators=(",", ":")),
                             "[" + ",".join("%.9e" % f32(x) for x in r["vector"]) + "]")
    long_.write(long_text + "\n")
    if i % 5 == 1:
        text = long_text
    elif i % 5 == 2:   # members around the vector, one of them nested with "vector":[]
        text = text[:-1] + ',"meta":{"vector":[],"n":[1,{"a":"]"}]}}'
    short.write(text + "\n")
PY
expect_status 0
sort rt.jsonl > rt-sorted.jsonl
$vc queries 1 48 3 > rt-q.jsonl
for metric in cosine ip; do
	run rag-index -q --metric $metric --batch 700 rt-$metric rt.jsonl
	expect_status 0
	run "rag-search --all rt-$metric > rt-out.jsonl"
	expect_status 0
	run "sort rt-out.jsonl | cmp - rt-sorted.jsonl"
	expect_status 0
	# through a search, after a compaction, as well
	run rag-index -q --compact rt-$metric
	expect_status 0
	run rag-index --check rt-$metric
	expect_status 0
	run "rag-search --mode vector --exact -k 1500 rt-$metric < rt-q.jsonl > rt-hits.jsonl"
	expect_status 0
	run $py - rt-hits.jsonl rt.jsonl <<'PY'
import json, sys
want, n = {}, 0
for line in open(sys.argv[2]):
    want[json.loads(line)["id"]] = line.strip()
for line in open(sys.argv[1]):
    h = json.loads(line)
    i = line.index('"vector":') + len('"vector":')
    got = line[i:line.index("]", i) + 1]
    w = want[h["id"]]
    j = w.index('"vector":') + len('"vector":')
    assert got == w[j:w.index("]", j) + 1], (h["id"], got[:60], w[j:j + 60])
    n += 1
assert n == 1500, n
PY
	expect_status 0
done
# the short form takes the room of the rows alone: a store of the long
# form keeps the text besides
run rag-index -q --metric ip rt-long rt-long.jsonl
expect_status 0
run rag-index -q --metric ip rt-short rt.jsonl
short_bytes=$(cat rt-short/*.rseg | wc -c)
long_bytes=$(cat rt-long/*.rseg | wc -c)
vec_bytes=$((1500 * 48 * 4))
check "[ $((long_bytes - short_bytes)) -gt $((vec_bytes * 2 / 5)) ]" "the store keeps the vectors' text: $short_bytes bytes with the short form, $long_bytes with the long"

# a filter that reads the vector sees it whole, as rag-filter does
run "rag-filter 'vector[0] > 0 and array_length(vector) == 48' rt.jsonl | wc -l"
want=$(cat "$out")
check "[ $want -gt 500 ] && [ $want -lt 1000 ]" "rag-filter kept $want of 1500"
run "rag-search --mode lexical -k 2000 --fields id --filter 'vector[0] > 0 and array_length(vector) == 48' rt-ip record | wc -l"
expect_out "$want"
run rag-index -q --index-field vector.x rt-ip < /dev/null
expect_status 2
expect_err_has 'the "vector" field cannot be indexed'

# ---- damage: --check names the vector block, the graph and the raw rows ----
# flips a byte near the end of the section of kind $3 in the segment of store $1
flip()
{
	rm -rf "$2"
	cp -r "$1" "$2"
	seg=$(ls "$2"/*.rseg | head -n 1)
	off=$($py - "$seg" "$3" <<'PY'
import struct, sys
d = open(sys.argv[1], "rb").read()
n = struct.unpack_from("<I", d, 24)[0]
for i in range(n):
    kind, flags, off, ln = struct.unpack_from("<IIQQ", d, 64 + 32 * i)
    if kind == int(sys.argv[2]):
        print(off + ln - 4)
PY
)
	[ -n "$off" ] || fail "$1: no section of kind $3"
	byte=$(dd if="$seg" bs=1 skip="$off" count=1 2>/dev/null | od -An -tu1 | tr -d ' ')
	printf "$(printf '\\%03o' $(((byte + 1) % 256)))" | dd of="$seg" bs=1 seek="$off" conv=notrunc 2>/dev/null
}
for kind in 17 18; do
	flip kb-ip dmg $kind
	run rag-index --check dmg
	expect_status 1
	expect_err_has "damaged segment: checksum mismatch in section $kind"
done
flip kb-cosine dmg 21
run rag-index --check dmg
expect_status 1
expect_err_has 'damaged segment: checksum mismatch in section 21'

finish
