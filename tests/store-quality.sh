#!/bin/sh
# rag-index and rag-search on the CACM test collection: BM25 with the
# default analyzer at least as good as Anserini's published figures for
# the same collection (MAP 0.3123, P@30 0.1942, 1000 hits a query, scored
# by ../shared/anchors/trec_score.py), and the pruned top-k exactly equal
# to scoring every candidate (--exhaustive) on every query.
# Needs ../shared/data/cacm and ../shared/anchors beside the checkout.
. "${top_srcdir:-.}/tests/lib.sh"

cacm="$shared_data/cacm"
scorer="$top_srcdir/../shared/anchors/trec_score.py"
map_bar=0.3123
p30_bar=0.1942

command -v python3 > /dev/null || { echo "skipped: python3 is needed to score the runs"; exit 77; }
for f in "$cacm/corpus.jsonl" "$cacm/queries.jsonl" "$cacm/qrels.cacm.txt"; do
	[ -f "$f" ] || { echo "skipped: $f is not there (the shared CACM data sits beside the checkout)"; exit 77; }
done
[ -f "$scorer" ] || { echo "skipped: $scorer is not there (the shared anchors sit beside the checkout)"; exit 77; }

cp "$cacm/queries.jsonl" queries.jsonl
nqueries=$(grep -c . queries.jsonl)

run rag-index -q --text-field contents kb "$cacm/corpus.jsonl"
expect_status 0
expect_err ""

# The run: 1000 hits a query, in the shape trec_score.py reads.
run 'rag-search -k 1000 kb < queries.jsonl'
expect_status 0
expect_err ""
cp "$out" run.jsonl
run python3 - run.jsonl "$nqueries" <<'PY'
import json, sys
hits = {}
for n, line in enumerate(open(sys.argv[1], encoding="utf-8"), 1):
    h = json.loads(line)
    for k in ("qid", "id", "score", "rank"):
        if k not in h:
            sys.exit("hit %d has no %r" % (n, k))
    hits.setdefault(h["qid"], []).append(h)
if len(hits) != int(sys.argv[2]):
    sys.exit("hits for %d queries, not %s" % (len(hits), sys.argv[2]))
for qid, hs in hits.items():
    if len(hs) > 1000:
        sys.exit("query %s: %d hits for -k 1000" % (qid, len(hs)))
    if [h["rank"] for h in hs] != list(range(1, len(hs) + 1)):
        sys.exit("query %s: ranks are not 1, 2, 3, ..." % qid)
    if any(a["score"] < b["score"] for a, b in zip(hs, hs[1:])):
        sys.exit("query %s: scores are not in decreasing order" % qid)
    if len({h["id"] for h in hs}) != len(hs):
        sys.exit("query %s: a record comes back twice" % qid)
PY
[ "$status" = 0 ] || fail "the run is malformed: $(cat "$out")"

run python3 "$scorer" "$cacm/qrels.cacm.txt" run.jsonl
expect_status 0
map=$(awk '$1 == "map" { print $2 }' "$out")
p30=$(awk '$1 == "P@30" { print $2 }' "$out")
echo "CACM, default analyzer, 1000 hits: MAP ${map:-?} (at least $map_bar), P@30 ${p30:-?} (at least $p30_bar)"
# At least the bar, both read to the 4 places that Anserini publishes.
at_least()
{
	[ -n "$1" ] && awk -v v="$1" -v bar="$2" 'BEGIN { exit !(v + 0 >= bar + 0) }'
}
check 'at_least "$map" "$map_bar"' "MAP ${map:-missing} is under Anserini's $map_bar"
check 'at_least "$p30" "$p30_bar"' "P@30 ${p30:-missing} is under Anserini's $p30_bar"

# Dynamic pruning is exact: the same hits, scores and order as scoring
# every candidate, for a small k (where it skips the most) and the run's k.
for k in 10 1000; do
	run "rag-search -k $k kb < queries.jsonl"
	expect_status 0
	cp "$out" pruned.jsonl
	run "rag-search -k $k --exhaustive kb < queries.jsonl"
	expect_status 0
	if ! cmp -s pruned.jsonl "$out"; then
		fail "-k $k: the pruned search differs from --exhaustive"
		diff pruned.jsonl "$out" | head -n 6 | cut -c 1-300 >&2
	fi
	check '[ -s pruned.jsonl ]' "-k $k: no hits at all"
done

finish
