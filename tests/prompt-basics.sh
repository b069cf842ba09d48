#!/bin/sh
# rag-prompt: real rag-search hits become one prompt per query; merged
# passages hold the document's bytes once; numbering, duplicates, the
# budget and the sentence cut; templates; --format text; head and EPIPE.
. "${top_srcdir:-.}/tests/lib.sh"

# A document chunked with overlap, so that neighbouring hits overlap.
"$py" - <<'PY'
sents = []
words = "alpha beta gamma delta store segment commit merge reader writer".split()
for i in range(60):
    w = [words[(i * 7 + j * 3) % len(words)] for j in range(4 + i % 5)]
    sents.append(" ".join(w).capitalize() + ".")
text = ""
for i, s in enumerate(sents):
    text += s + ("\n" if i % 4 == 3 else " ")
open("doc.txt", "w").write(text)
PY
rag-chunk --size 120 --overlap 60 doc.txt > chunks.jsonl || fail "rag-chunk failed"
rag-index -q kb chunks.jsonl || fail "rag-index failed"
printf '{"qid":"q1","query":"commit merge"}\n{"qid":"q2","query":"reader writer store"}\n{"qid":"q3","query":"alpha"}\n' > queries.jsonl
rag-search -k 8 kb < queries.jsonl > hits.jsonl || fail "rag-search failed"

# One prompt per query, in order; each passage is the document's bytes
# from its start to its end (so shared bytes appear once), numbered 1..n
# by the best rank of its parts, with every hit accounted for.
check_prompts()
{
	"$py" - "$1" "$2" <<'PY'
import json, sys
doc = open("doc.txt", "rb").read()
hits = [json.loads(l) for l in open(sys.argv[1])]
prompts = [json.loads(l) for l in open(sys.argv[2])]
bad = []
qids = []
for h in hits:
    if not qids or qids[-1] != h["qid"]:
        qids.append(h["qid"])
if [p["qid"] for p in prompts] != qids:
    bad.append("qids %r, want %r" % ([p["qid"] for p in prompts], qids))
merged_any = False
for p in prompts:
    hs = [h for h in hits if h["qid"] == p["qid"]]
    srcs = p["sources"]
    if [s["n"] for s in srcs] != list(range(1, len(srcs) + 1)):
        bad.append("numbers of %s" % p["qid"])
    want = []
    for s in srcs:
        text = doc[s["start"]:s["end"]].decode()
        want.append("[%d] %s:%d-%d\n%s" % (s["n"], s["source"], s["line_start"], s["line_end"], text))
        parts = [h for h in hs if h["start"] >= s["start"] and h["end"] <= s["end"]]
        if s.get("ids"):
            merged_any = True
            if sorted(s["ids"]) != sorted(h["id"] for h in parts):
                bad.append("ids of %s [%d]" % (p["qid"], s["n"]))
        best = min(parts, key=lambda h: h["rank"])
        if s["id"] != best["id"]:
            bad.append("id of %s [%d]: %s, want %s" % (p["qid"], s["n"], s["id"], best["id"]))
        s["_rank"] = best["rank"]
        if s.get("text") != text:
            bad.append("text of %s [%d]" % (p["qid"], s["n"]))
        for k in ("score", "rank", "query", "qid"):
            if k in s:
                bad.append("source has %s" % k)
        if s.get("hash") != best["hash"]:
            bad.append("metadata of %s [%d]" % (p["qid"], s["n"]))
    ranks = [s["_rank"] for s in srcs]
    if ranks != sorted(ranks):
        bad.append("passages of %s not in rank order: %r" % (p["qid"], ranks))
    covered = set()
    for s in srcs:
        covered |= {h["id"] for h in hs if h["start"] >= s["start"] and h["end"] <= s["end"]}
    if covered != {h["id"] for h in hs}:
        bad.append("hits of %s left out" % p["qid"])
    user = p["messages"][1]["content"]
    if user != "Sources:\n\n" + "\n\n".join(want) + "\n\nQuestion: " + p["query"]:
        bad.append("user message of %s:\n%s" % (p["qid"], user))
    if p["messages"][0]["role"] != "system" or p["messages"][1]["role"] != "user":
        bad.append("roles")
if not merged_any:
    bad.append("no passage was merged: the test proves nothing")
print("\n".join(bad))
sys.exit(1 if bad else 0)
PY
}
run rag-prompt -n 0 hits.jsonl
expect_status 0
expect_err ''
expect_lines 3
cp "$out" prompts.jsonl
check 'check_prompts hits.jsonl prompts.jsonl' "prompts do not match the hits"
# the same from standard input, and from rag-search directly
run 'rag-search -k 8 kb < queries.jsonl | rag-prompt -n 0'
check 'cmp -s "$out" prompts.jsonl' "prompts from a pipe differ"
# two files are one stream: a query split across them is one group
head -n 5 hits.jsonl > part1.jsonl
tail -n +6 hits.jsonl > part2.jsonl
run rag-prompt -n 0 part1.jsonl - < part2.jsonl
check 'cmp -s "$out" prompts.jsonl' "prompts from two files differ"

# A hand-written group: overlap, a duplicate id, a duplicate span,
# metadata as written, qid as the hits had it.
cat > hand.jsonl <<'EOF2'
{"id":"d#2","doc":"d","source":"d.txt","start":5,"end":25,"line_start":1,"line_end":2,"text":"two three.\nFour five","score":3,"rank":1,"query":"q?","qid":7,"lang":"en","year": 2.50}
{"id":"d#1","doc":"d","source":"d.txt","start":0,"end":18,"line_start":1,"line_end":2,"text":"One, two three.\nFo","score":2,"rank":2,"query":"q?","qid":7,"lang":"fr"}
{"id":"d#2","doc":"d","source":"d.txt","start":5,"end":25,"text":"two three.\nFour five","rank":3,"query":"q?","qid":7}
{"id":"e#1","doc":"e","start":0,"end":5,"text":"Other","rank":4,"query":"q?","qid":7,"vector":[1,2]}
{"id":"e#9","doc":"e","start":0,"end":5,"text":"Other","rank":5,"query":"q?","qid":7}
EOF2
run rag-prompt -s 'Be brief.' hand.jsonl
expect_status 0
expect_out '{"query":"q?","qid":7,"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Sources:\n\n[1] d.txt:1-2\nOne, two three.\nFour five\n\n[2] e\nOther\n\nQuestion: q?"}],"sources":[{"n":1,"id":"d#2","doc":"d","source":"d.txt","start":0,"end":25,"line_start":1,"line_end":2,"ids":["d#1","d#2"],"lang":"en","year":2.50,"text":"One, two three.\nFour five"},{"n":2,"id":"e#1","doc":"e","start":0,"end":5,"text":"Other"}]}'
run rag-prompt -s 'Be brief.' --format text hand.jsonl hand.jsonl
expect_status 0
expect_out 'System:
Be brief.

User:
Sources:

[1] d.txt:1-2
One, two three.
Four five

[2] e
Other

Question: q?'

# Text: one prompt per query, a blank line between them.
run rag-prompt --format text -s S hits.jsonl
expect_status 0
check '[ "$(grep -c "^System:$" "$out")" = 3 ] && [ "$(grep -c "^Question: " "$out")" = 3 ]' "--format text does not show three prompts"
check '[ "$(grep -B1 "^System:$" "$out" | grep -c "^$")" = 2 ]' "--format text has no blank line between prompts"

# The budget: never over it; lowest-ranked passages go first, whole;
# only the best one may be cut, at a sentence end, and that is said.
budget_check()
{
	"$py" - "$1" <<'PY'
import json, sys
n = int(sys.argv[1])
full = [json.loads(l) for l in open("prompts-s.jsonl")]
got = [json.loads(l) for l in open(".out")]
bad = []
for f, g in zip(full, got):
    tokens = -(-sum(len(m["content"].encode()) for m in g["messages"]) // 4)
    if tokens > n:
        bad.append("%s: %d tokens > %d" % (g["qid"], tokens, n))
    fs, gs = f["sources"], g["sources"]
    if gs and gs[0].get("truncated"):
        if len(gs) != 1 or gs[0]["id"] != fs[0]["id"]:
            bad.append("%s: cut a passage other than the best" % g["qid"])
        elif not g["messages"][1]["content"].split("\n\nQuestion: ")[0].rstrip().endswith((".", "!", "?")):
            bad.append("%s: not cut at a sentence end" % g["qid"])
    elif gs != fs[:len(gs)]:
        bad.append("%s: the sources are not the best of the full list" % g["qid"])
    if len(gs) == len(fs) and tokens < n and g != f:
        bad.append("%s: differs with room to spare" % g["qid"])
if len(got) != len(full):
    bad.append("%d prompts, want %d" % (len(got), len(full)))
print("\n".join(bad))
sys.exit(1 if bad else 0)
PY
}
rag-prompt -n 0 -s S hits.jsonl > prompts-s.jsonl
for n in 5000 400 250 200 150 120 100; do
	run rag-prompt -n $n -s S hits.jsonl
	expect_status 0
	check "budget_check $n" "the budget of $n is not kept as it should be"
done
# some budget drops passages, and a small one cuts the best with a warning
run rag-prompt -n 150 -s S hits.jsonl
check '"$py" -c "import json,sys; sys.exit(0 if sum(len(json.loads(l)[\"sources\"]) for l in open(\".out\")) < sum(len(json.loads(l)[\"sources\"]) for l in open(\"prompts.jsonl\")) else 1)"' "-n 150 dropped no passage"
run rag-prompt -n 30 -s S hits.jsonl
expect_status 0
expect_err_has 'rag-prompt: hits.jsonl:1: warning: query "commit merge": source [1] "doc.txt:'
expect_err_has 'cut at a sentence boundary to fit 30 tokens'
check '"$py" -c "import json,sys; sys.exit(0 if all(json.loads(l)[\"sources\"][0].get(\"truncated\") for l in open(\".out\")) else 1)"' "-n 30 did not mark cut passages"
# the default budget is 3000 tokens
"$py" -c 'import json
print(json.dumps({"query": "big", "text": "Word " * 3000 + "end.", "id": "a", "rank": 1}))
print(json.dumps({"query": "big", "text": "More. " * 500, "id": "b", "rank": 9}))' > big.jsonl
run rag-prompt big.jsonl
expect_status 0
expect_err_has 'source [1] "a" cut at a word boundary to fit 3000 tokens'
check '"$py" -c "import json,sys; p=json.loads(open(\".out\").read()); sys.exit(0 if -(-sum(len(m[\"content\"]) for m in p[\"messages\"])//4) <= 3000 and len(p[\"sources\"]) == 1 else 1)"' "the default budget is not 3000 tokens"

# A template.
cat > t.tmpl <<'EOF2'
Q{{qid}}: {{ question }}
{{#sources}}
<{{n}} {{location}} lang={{lang}} year={{year}}>
{{text}}
{{/sources}}
\{{literal}}
EOF2
run rag-prompt -t t.tmpl hand.jsonl
expect_status 0
check '"$py" -c "import json,sys; c=json.loads(open(\".out\").read())[\"messages\"][1][\"content\"]; sys.exit(0 if c == \"Q7: q?\n<1 d.txt:1-2 lang=en year=2.5>\nOne, two three.\nFour five\n<2 e lang= year=>\nOther\n{{literal}}\" else print(repr(c)) or 1)"' "template rendered wrongly"

# A reader that goes away ends the program quietly.
i=0
while [ $i -lt 300 ]; do
	sed "s/\"qid\":\"q\([0-9]\)\"/\"qid\":\"q\1-$i\"/" hits.jsonl
	i=$((i + 1))
done > many.jsonl
run bash -c 'set -o pipefail; rag-prompt many.jsonl | head -n 1'
expect_status 0
expect_lines 1
expect_err ''
# All 900 prompts otherwise, with memory for one group only.
run 'rag-prompt many.jsonl | wc -l'
expect_out '900'
# A failed write is reported once, with status 1.
if [ -w /dev/full ]; then
	run 'rag-prompt many.jsonl > /dev/full'
	expect_status 1
	expect_err 'rag-prompt: error writing output: No space left on device'
fi

# --help and --version.
run rag-prompt --help
expect_status 0
expect_out_has 'Usage: rag-prompt [OPTION]... [FILE]...'
expect_err ''
run rag-prompt --version
expect_status 0
expect_out_has 'rag-prompt (ragkit) '

finish
