#!/bin/sh
# rag-search: hits are the stored records plus score, rank, query and qid;
# queries from arguments and standard input; --fields, --format text, -k;
# BM25 scores checked against a reference; the pruned search returns
# exactly what scoring every record does.
. "${top_srcdir:-.}/tests/lib.sh"

command -v jq > /dev/null || { echo "jq is needed (apt-get install jq)"; exit 77; }

cat > recs.jsonl <<'EOF'
{"id": "a1", "text": "The quick brown fox", "source": "animals.txt", "line_start": 1, "line_end": 1, "meta": {"k": [1, 2.50]}}
{"id": "a2", "text": "Lazy dogs sleep all day.\nThey wake for dinner.", "source": "animals.txt", "line_start": 3, "line_end": 4, "score": 99, "rank": 7, "query": "old", "qid": "old"}
{"id": "b1", "text": "A quick fox jumps over quick dogs", "tags": ["x", null, true]}
{"id": 4, "text": "Foxes and dogs are not friends, but a fox is quick to make friends with other foxes in the quiet of the night when the dogs are asleep and the moon is out over the hills and far away from the farms"}
EOF
rag-index -q kb recs.jsonl || fail "indexing failed"

# Hits: every stored field as written, then score, rank and query.
run rag-search kb fox
expect_status 0
expect_err ''
expect_out '{"id":4,"text":"Foxes and dogs are not friends, but a fox is quick to make friends with other foxes in the quiet of the night when the dogs are asleep and the moon is out over the hills and far away from the farms","score":0.24713731028387803,"rank":1,"query":"fox"}
{"id":"a1","text":"The quick brown fox","source":"animals.txt","line_start":1,"line_end":1,"meta":{"k":[1,2.50]},"score":0.2123880764906013,"rank":2,"query":"fox"}
{"id":"b1","text":"A quick fox jumps over quick dogs","tags":["x",null,true],"score":0.20125451878596112,"rank":3,"query":"fox"}'
# Stored fields named score, rank, query or qid are replaced.
run rag-search -k 1 kb "lazy dinner"
expect_out '{"id":"a2","text":"Lazy dogs sleep all day.\nThey wake for dinner.","source":"animals.txt","line_start":3,"line_end":4,"score":1.323985701812842,"rank":1,"query":"lazy dinner"}'
# -k, and several queries in turn.
run rag-search -k 2 --fields id kb fox dogs
expect_out '{"id":4,"score":0.24713731028387803,"rank":1,"query":"fox"}
{"id":"a1","score":0.2123880764906013,"rank":2,"query":"fox"}
{"id":4,"score":0.2142399391997811,"rank":1,"query":"dogs"}
{"id":"b1","score":0.20125451878596112,"rank":2,"query":"dogs"}'
# A k beyond the size of the store is no problem.
run rag-search -k 99999999999 --fields id kb lazy
expect_status 0
expect_out '{"id":"a2","score":0.661992850906421,"rank":1,"query":"lazy"}'
# No hits is no error; a query of stop words has no terms.
run rag-search kb zebra "the of and" ""
expect_status 0
check '[ ! -s "$out" ]' "hits for queries without matches: $(cat "$out")"

# --fields keeps the listed fields in stored order; unknown names are fine.
run rag-search -k 1 --fields 'meta, nothing,id' kb brown
expect_out '{"id":"a1","meta":{"k":[1,2.50]},"score":0.7169257958913565,"rank":1,"query":"brown"}'
run rag-search -k 1 --fields score kb brown
expect_out '{"score":0.7169257958913565,"rank":1,"query":"brown"}'

# Queries from standard input: plain lines and NDJSON, with their ids.
printf 'fox\n\n  {"query":"dogs","qid":7,"id":"z"}\n{"query":"dogs","id":"z"}\n{"text":"dogs","_id":5}\n{"query":"dogs","qid":null,"id":"n"}\r\n   brown  \n' > queries.txt
run 'rag-search -k 1 --fields id kb < queries.txt'
expect_status 0
expect_out '{"id":4,"score":0.24713731028387803,"rank":1,"query":"fox"}
{"id":4,"score":0.2142399391997811,"rank":1,"query":"dogs","qid":"7"}
{"id":4,"score":0.2142399391997811,"rank":1,"query":"dogs","qid":"z"}
{"id":4,"score":0.2142399391997811,"rank":1,"query":"dogs","qid":"5"}
{"id":4,"score":0.2142399391997811,"rank":1,"query":"dogs","qid":"n"}
{"id":"a1","score":0.7169257958913565,"rank":1,"query":"brown"}'
# "query" wins over "text"; a query is given back as it was asked.
run 'printf "{\"text\":\"dogs\",\"query\":\"Brown  FOX\\\\u0021\"}\n" | rag-search -k 1 --fields id kb'
expect_out '{"id":"a1","score":0.9293138723819578,"rank":1,"query":"Brown  FOX!"}'

# Bad query lines: the line and what is wrong; --skip-bad goes on.
printf 'fox\n{"qid":1}\n{"query":3}\n{"query":"x","qid":[1]}\n{oops\n[1]\nbrown\n' > bad.txt
run 'rag-search -k 1 --fields id kb < bad.txt'
expect_status 1
expect_err 'rag-search: <stdin>:2: query has no "query", "text" or "vector"'
expect_lines 1
run 'rag-search -k 1 --fields id --skip-bad kb < bad.txt'
expect_status 0
expect_err 'rag-search: <stdin>:2: query has no "query", "text" or "vector"
rag-search: <stdin>:3: "query" is not a string
rag-search: <stdin>:4: "qid" is not a string or an integer
rag-search: <stdin>:5:2: invalid JSON: expected a string key, found '"'"'o'"'"''
check '[ "$(field query | tr "\n" " ")" = "fox brown " ]' "--skip-bad answered: $(field query | tr '\n' ' ')"
printf 'fox\nbr\377wn\n' > latin.txt
run 'rag-search --fields id kb < latin.txt'
expect_status 1
expect_err 'rag-search: <stdin>:2: invalid UTF-8'

# --format text, for people.
run rag-search --format text kb fox
expect_status 0
expect_out '1. 0.2471  4
    Foxes and dogs are not friends, but a fox is quick to make friends with
    other foxes in the quiet of the night when the dogs are asleep and the moon
    is out over the hills and far away from the farms
2. 0.2124  animals.txt:1
    The quick brown fox
3. 0.2013  b1
    A quick fox jumps over quick dogs'
run rag-search --format text -k 1 kb dinner zebra
expect_out 'query: dinner
1. 0.6620  animals.txt:3-4
    Lazy dogs sleep all day. They wake for dinner.

query: zebra
(no hits)'
run 'printf "{\"query\":\"fox\",\"qid\":\"q9\"}\n" | rag-search --format text -k 1 kb'
expect_out 'query: fox (qid q9)
1. 0.2471  4
    Foxes and dogs are not friends, but a fox is quick to make friends with
    other foxes in the quiet of the night when the dogs are asleep and the moon
    is out over the hills and far away from the farms'

# Text runs together, is wrapped at spaces, and cut after three lines;
# control characters never reach the terminal.
python3 -c 'import json
print(json.dumps({"id": "long\u001b[2J", "text": "\n\n  Start\there.\n\n" + "x" * 100 + " end \u0007" + " word" * 80}))' > long.jsonl
rag-index -q long long.jsonl
run rag-search --format text long word
expect_out "1. 0.2845  long [2J
    Start here.
    xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx
    xxxxxxxxxxxxxxxxxxxxxxxx end word word word word word word word word ..."

# --all: every record as stored, in store order.
run rag-search --all kb
expect_status 0
expect_out '{"id":"a1","text":"The quick brown fox","source":"animals.txt","line_start":1,"line_end":1,"meta":{"k":[1,2.50]}}
{"id":"a2","text":"Lazy dogs sleep all day.\nThey wake for dinner.","source":"animals.txt","line_start":3,"line_end":4,"score":99,"rank":7,"query":"old","qid":"old"}
{"id":"b1","text":"A quick fox jumps over quick dogs","tags":["x",null,true]}
{"id":4,"text":"Foxes and dogs are not friends, but a fox is quick to make friends with other foxes in the quiet of the night when the dogs are asleep and the moon is out over the hills and far away from the farms"}'
run rag-search --all --fields id,rank kb
expect_out '{"id":"a1"}
{"id":"a2","rank":7}
{"id":"b1"}
{"id":4}'

# Usage errors: status 2 and a pointer to --help.
for args in "" "--mode semantic kb x" "-k 0 kb x" "-k x kb x" "--format html kb x" \
	"--fields a,,b kb x" "--all kb x" "--all --format text kb" "--bogus kb x" "kb -k"; do
	run "rag-search $args"
	expect_status 2
	expect_err_has "Try 'rag-search --help' for more information."
done
run rag-search --mode semantic kb x
expect_err "rag-search: unknown mode \"semantic\" (use lexical, vector or hybrid)
Try 'rag-search --help' for more information."
# a store without vectors is searched lexically by default, and says so when asked otherwise
run rag-search --mode vector kb x
expect_status 2
expect_err "rag-search: kb: the store holds no vectors: only --mode lexical can search it"
run rag-search -k 0 kb x
expect_err_has 'rag-search: -k must be at least 1, not 0'
run rag-search --fields a,,b kb x
expect_err_has 'rag-search: empty field name in "a,,b"'
run rag-search kb "$(printf 'br\377wn')"
expect_status 2
expect_err_has 'rag-search: query 1 is not valid UTF-8'
run rag-search --mode lexical -k 1 --fields id kb fox
expect_status 0
expect_out '{"id":4,"score":0.24713731028387803,"rank":1,"query":"fox"}'
# A store that is not there.
run rag-search nostore fox
expect_status 1
expect_err_has 'rag-search: nostore: '

# BM25 as Lucene computes it, checked against an implementation in Python
# on a store whose analyzer only splits at white space.
python3 - <<'EOF'
import json, random
random.seed(42)
words = ["t%d" % i for i in range(80)]
weights = [1.0 / (i + 1) for i in range(80)]
with open("rand.jsonl", "w") as f:
    for i in range(400):
        n = random.randint(0, 40)
        text = " ".join(random.choices(words, weights, k=n))
        f.write(json.dumps({"id": "r%d" % i, "text": text, "n": i}) + "\n")
with open("rq.txt", "w") as f:
    for i in range(60):
        q = random.choices(words + ["nope"], k=random.randint(1, 5))
        f.write(json.dumps({"qid": "q%d" % i, "query": " ".join(q)}) + "\n")
EOF
rag-index -q --analyzer none --k1 1.2 --b 0.75 none rand.jsonl || fail "indexing rand.jsonl failed"
run 'rag-search -k 15 --fields id none < rq.txt'
expect_status 0
cp "$out" bm25.out
bm25_check()
{
	python3 - "$1" "$2" "$3" "$4" <<'EOF'
import json, math, sys
recs, queries, hits, k1, b = sys.argv[1], "rq.txt", None, None, None
hits_path, k1, b = sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
docs = [json.loads(l) for l in open(recs)]
terms = [d["text"].split() for d in docs]
N = len(docs)
avgdl = sum(len(t) for t in terms) / N
df = {}
for t in terms:
    for w in set(t):
        df[w] = df.get(w, 0) + 1
got = {}
for l in open(hits_path):
    h = json.loads(l)
    got.setdefault(h["qid"], []).append(h)
bad = 0
for l in open(queries):
    q = json.loads(l)
    qt = []
    for w in q["query"].split():
        if w not in [x[0] for x in qt]:
            qt.append([w, 0])
        [x for x in qt if x[0] == w][0][1] += 1
    scores = []
    for i, t in enumerate(terms):
        s, hit = 0.0, False
        for w, qtf in qt:
            tf = t.count(w)
            if tf == 0:
                continue
            hit = True
            idf = math.log(1 + (N - df[w] + 0.5) / (df[w] + 0.5))
            s += qtf * idf * tf / (tf + k1 * (1 - b + b * len(t) / avgdl))
        if hit:
            scores.append((-s, i))
    scores.sort()
    want = [(docs[i]["id"], -s) for s, i in scores[:15]]
    have = [(h["id"], h["score"]) for h in got.get(q["qid"], [])]
    if [w[0] for w in want] != [h[0] for h in have] or any(
            abs(w[1] - h[1]) > 1e-9 * max(1, abs(w[1])) for w, h in zip(want, have)):
        bad += 1
        print("query %s %r: want %s, got %s" % (q["qid"], q["query"], want[:5], have[:5]))
    if [h["rank"] for h in got.get(q["qid"], [])] != list(range(1, len(want) + 1)):
        bad += 1
        print("query %s: ranks are not 1..n" % q["qid"])
sys.exit(1 if bad else 0)
EOF
}
check 'bm25_check rand.jsonl bm25.out 1.2 0.75' "BM25 scores differ from the reference"
# ...and with the default parameters.
rag-index -q --analyzer none none2 rand.jsonl
rag-search -k 15 --fields id none2 < rq.txt > bm25b.out
check 'bm25_check rand.jsonl bm25b.out 0.9 0.4' "BM25 scores with k1 0.9, b 0.4 differ from the reference"

# The pruned search returns exactly what scoring every record does: a
# store of several segments, with deleted and updated records, for many k.
python3 - <<'EOF'
import json, random
random.seed(1234)
vocab = ("search index store segment record query score rank term text word "
         "fox dog cat bird fish tree river stone cloud light dark fast slow "
         "red green blue one two three alpha beta gamma delta").split()
weights = [1.0 / (i + 1) ** 0.8 for i in range(len(vocab))]
with open("prune.jsonl", "w") as f:
    for i in range(600):
        n = random.randint(1, 60)
        f.write(json.dumps({"id": "p%d" % i, "text": " ".join(random.choices(vocab, weights, k=n))}) + "\n")
with open("prune-upd.jsonl", "w") as f:
    for i in random.sample(range(600), 50):
        n = random.randint(1, 60)
        f.write(json.dumps({"id": "p%d" % i, "text": " ".join(random.choices(vocab, weights, k=n))}) + "\n")
with open("prune-del.txt", "w") as f:
    for i in random.sample(range(600), 60):
        f.write("p%d\n" % i)
with open("prune-q.txt", "w") as f:
    for i in range(120):
        f.write(" ".join(random.choices(vocab + ["missing"], k=random.randint(1, 6))) + "\n")
EOF
rag-index -q --batch 97 pr prune.jsonl || fail "indexing prune.jsonl failed"
same_as_exhaustive()
{
	for k in 1 3 10 50 1000; do
		rag-search -k $k pr < prune-q.txt > pruned.out || return 1
		rag-search -k $k --exhaustive pr < prune-q.txt > exhaustive.out || return 1
		[ -s pruned.out ] && cmp -s pruned.out exhaustive.out || return 1
	done
}
check same_as_exhaustive "pruned and exhaustive search differ on a fresh store"
rag-index -q --batch 13 pr prune-upd.jsonl
rag-index -q --delete pr prune-del.txt
check same_as_exhaustive "pruned and exhaustive search differ after updates and deletes"
rag-index -q --compact pr
check same_as_exhaustive "pruned and exhaustive search differ after --compact"

# A reader that goes away ends the program quietly.
i=0
while [ $i -lt 40 ]; do cat prune-q.txt; i=$((i + 1)); done > many-q.txt
run bash -c 'set -o pipefail; rag-search -k 50 pr < many-q.txt | head -n 1'
expect_status 0
expect_lines 1
expect_err ''
run bash -c 'set -o pipefail; rag-search --all pr | head -n 1'
expect_status 0
expect_err ''
# A failed write is reported once, with status 1.
if [ -w /dev/full ]; then
	run 'rag-search -k 50 pr < many-q.txt > /dev/full'
	expect_status 1
	expect_err 'rag-search: error writing output: No space left on device'
fi

# --help and --version.
run rag-search --help
expect_status 0
expect_out_has 'Usage: rag-search [OPTION]... STORE [QUERY]...'
run rag-search --version
expect_out_has 'rag-search (ragkit) '

finish
