#!/bin/sh
# rag-ask offline, with builtin:extractive: the whole pipeline from files
# to answer records; -s STORE gives the same answer as rag-search |
# rag-prompt | rag-ask; the extractive answer on a fixed store, word for
# word; quoted sentences are the cited sources' own; citations and
# unknown markers; --format text; questions on stdin; bad records, bad
# options and configuration, each with its exit status and no partial
# output.
. "${top_srcdir:-.}/tests/lib.sh"

mkdir -p docs
cat > docs/store.txt <<'EOF'
The store keeps records in immutable segments.
A manifest names the live segments. A commit writes new files, then renames the manifest into place.

Deletes are tombstones until a compaction rewrites the segments. Compaction reclaims the space of deleted records and merges small segments.
EOF
cat > docs/search.md <<'EOF'
# Searching

Lexical search scores records with BM25. Vector search walks a graph of nearest neighbours.

Hybrid search fuses the two lists with reciprocal rank fusion.
EOF

# ---- the whole pipeline, files to answer record ----
run "rag-chunk docs/ | rag-index -q kb && rag-search kb 'how is the space of deleted records reclaimed?' | rag-prompt | rag-ask"
expect_status 0
expect_lines 1
lead='Extractive answer: the sentences of the sources that best match the question, quoted as they are (no model wrote this).'
expect_out "{\"query\":\"how is the space of deleted records reclaimed?\",\"answer\":\"$lead\\nCompaction reclaims the space of deleted records and merges small segments. [1]\",\"citations\":[{\"n\":1,\"id\":\"docs/store.txt#1\",\"doc\":\"docs/store.txt\",\"source\":\"docs/store.txt\",\"start\":0,\"end\":289,\"line_start\":1,\"line_end\":4,\"hash\":\"ebff63c619775805bd2e99e16a17c210\"}],\"model\":\"builtin:extractive\",\"usage\":null,\"finish_reason\":\"stop\"}"
cp "$out" pipeline.jsonl

# -s does the search and the prompt in-process: the same record
run rag-ask -s kb 'how is the space of deleted records reclaimed?'
expect_status 0
check "cmp -s '$out' pipeline.jsonl" "-s answered otherwise than the pipeline"

# Several questions, as arguments and on standard input (plain and NDJSON, with ids)
run rag-ask -s kb 'what does hybrid search do?' 'where are records kept?'
expect_status 0
expect_lines 2
expect_out_has 'Hybrid search fuses the two lists with reciprocal rank fusion. [1]'
cp "$out" two.jsonl
run "printf '%s\n' 'what does hybrid search do?' '' '{\"qid\":7,\"query\":\"where are records kept?\"}' | rag-ask -s kb"
expect_status 0
expect_lines 2
expect_out_has '"query":"where are records kept?","qid":"7","answer"'
check "[ \"\$(head -n 1 '$out')\" = \"\$(head -n 1 two.jsonl)\" ]" "a question on stdin answered otherwise"

# Every quoted sentence is in the source its marker cites, and the
# citations are the prompt's sources without their text.
cat > quotecheck.py <<'PY'
import json, re, sys
prompts = [json.loads(l) for l in open(sys.argv[1])]
answers = [json.loads(l) for l in open(sys.argv[2])]
bad = []
if len(prompts) != len(answers):
    bad.append("%d prompts, %d answers" % (len(prompts), len(answers)))
for p, a in zip(prompts, answers):
    srcs = {s["n"]: s for s in p["sources"]}
    body = a["answer"].split("\n", 1)[1]
    for sent, n in re.findall(r"(.+?) \[(\d+)\](?: |$)", body):
        text = " ".join(srcs[int(n)]["text"].split())
        if sent.strip() not in text:
            bad.append("%r is not in source %s" % (sent, n))
    cited = [int(n) for n in dict.fromkeys(re.findall(r"\[(\d+)\]", body))]
    if [c["n"] for c in a["citations"]] != cited:
        bad.append("citations %r, markers %r" % ([c["n"] for c in a["citations"]], cited))
    for c in a["citations"]:
        want = {k: v for k, v in srcs[c["n"]].items() if k != "text"}
        if c != want:
            bad.append("citation %r is not source %r" % (c, want))
print("\n".join(bad))
sys.exit(1 if bad else 0)
PY
printf '%s\n' 'what does search do?' 'segments and manifest' 'graph neighbours' 'how is the space of deleted records reclaimed?' > qs.txt
rag-search -k 4 kb < qs.txt | rag-prompt > prompts.jsonl || fail "search | prompt failed"
run rag-ask prompts.jsonl
expect_status 0
expect_lines 4
check "'$py' quotecheck.py prompts.jsonl '$out' >&2" "quoted sentences or citations do not match the sources"

# ---- prompt records made by hand: citations, unknown markers ----
cat > hand.jsonl <<'EOF'
{"query":"which colour is the sky","qid":"q1","messages":[{"role":"user","content":"x"}],"sources":[{"n":1,"id":"a","source":"a.txt","line_start":3,"line_end":4,"lang":"en","text":"Grass is green. The sky is blue on a clear day."},{"n":2,"id":"b","text":"The sky at night is dark."}]}
{"query":"nothing shared here","messages":[{"role":"user","content":"x"}],"sources":[{"n":1,"id":"a","text":"Grass is green."}]}
EOF
run rag-ask hand.jsonl
expect_status 0
expect_out "{\"query\":\"which colour is the sky\",\"qid\":\"q1\",\"answer\":\"$lead\\nThe sky is blue on a clear day. [1] The sky at night is dark. [2]\",\"citations\":[{\"n\":1,\"id\":\"a\",\"source\":\"a.txt\",\"line_start\":3,\"line_end\":4,\"lang\":\"en\"},{\"n\":2,\"id\":\"b\"}],\"model\":\"builtin:extractive\",\"usage\":null,\"finish_reason\":\"stop\"}
{\"query\":\"nothing shared here\",\"answer\":\"$lead\\nThe sources hold no sentence that matches the question.\",\"citations\":[],\"model\":\"builtin:extractive\",\"usage\":null,\"finish_reason\":\"stop\"}"

run rag-ask --format text hand.jsonl
expect_status 0
expect_out "$lead
The sky is blue on a clear day. [1] The sky at night is dark. [2]

Sources:
[1] a.txt:3-4
[2] b

$lead
The sources hold no sentence that matches the question."

# ---- bad records: named by file and line, the others still answered ----
{
	printf '%s\n' '{"query":"sky","messages":[{"role":"user","content":"x"}],"sources":[{"n":1,"text":"The sky is blue."}]}'
	printf '%s\n' '{"query":"sky","sources":[{"n":1,"id":"x"}]}'
	printf '%s\n' 'not json'
	printf '%s\n' '{"sources":[]}'
	printf '%s\n' '{"query":"sky","sources":[{"id":"no number"}]}'
	printf '%s\n' '{"query":"sky","messages":[{"role":"user","content":"x"}],"sources":[{"n":1,"text":"Blue sky."}]}'
} > bad.jsonl
run rag-ask bad.jsonl
expect_status 1
expect_lines 2
expect_err_has 'bad.jsonl:2: source 1 has no "text" to quote'
expect_err_has 'bad.jsonl:3:'
expect_err_has 'bad.jsonl:4: a prompt record needs "query"'
expect_err_has 'bad.jsonl:5: source 1 is not an object with a number "n" of 1 or more'
check "'$py' -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' '$out'" \
	"the answers written are not whole records"

run rag-ask missing.jsonl
expect_status 1
expect_err_has 'missing.jsonl'
expect_lines 0

# -s: a question nothing matches is not answered; the message names it
run rag-ask -s kb 'what does hybrid search do?' 'zebra xylophone'
expect_status 1
expect_lines 1
expect_err 'rag-ask: question 2: nothing in the store matches the question'
run "printf 'records\nzebra\n' | rag-ask -s kb"
expect_status 1
expect_lines 1
expect_err 'rag-ask: <stdin>:2: nothing in the store matches the question'

# ... whatever the failure: here a prompt over its budget
run rag-ask -s kb -n 20 'records'
expect_status 1
expect_err_has 'rag-ask: question 1: query "records": '

# A store with vectors: a question with a vector that does not fit fails alone
rag-chunk docs/ | rag-embed -q --dim 8 | rag-index -q vkb || fail "the vector store was not made"
printf '%s\n' '{"qid":"a","query":"records","vector":[1,0]}' '{"qid":"b","query":"records","model":"other:m","vector":[1,0,0,0,0,0,0,0]}' 'what does hybrid search do?' > vq.jsonl
run "rag-ask -s vkb < vq.jsonl"
expect_status 1
expect_lines 1
expect_err_has '<stdin>:1: '
expect_err_has '<stdin>:2: the question'"'"'s vector is of model "other:m"'
run rag-ask -s vkb --mode vector 'what does hybrid search do?'
expect_status 0
expect_out_has 'Hybrid search fuses'
run rag-ask -s kb --mode vector 'records'
expect_status 2
expect_err_has 'the store has no vectors'

# A prompt record's other fields travel on to its answer
printf '%s\n' '{"query":"sky","topic":"weather","sources":[{"n":1,"text":"The sky is blue."}],"run":{"at":3}}' > extra.jsonl
run rag-ask extra.jsonl
expect_status 0
expect_out_has '"finish_reason":"stop","topic":"weather","run":{"at":3}}'
run rag-ask -s no-such-store 'sky'
expect_status 1
expect_lines 0

# -s with a filter, a template, a budget and a system message
run rag-ask -s kb --filter 'doc == "docs/search.md"' 'records'
expect_status 0
expect_out_has '"source":"docs/search.md"'
check "! grep -q 'docs/store.txt' '$out'" "--filter let another document through"
printf 'Q: {{question}}\n{{#sources}}<{{n}}> {{text}}\n{{/sources}}' > t.tmpl
run rag-ask -s kb --dry-run -t t.tmpl --system 'Be terse.' -n 0 'records'
expect_status 0
expect_out_has '"messages":[{"role":"system","content":"Be terse."},{"role":"user","content":"Q: records\n<1> '
printf '{{nope}}\n' > bad.tmpl
run rag-ask -s kb -t bad.tmpl 'records'
expect_status 2
expect_err_has 'bad.tmpl:1'
expect_lines 0

# ---- options, the model and the configuration file ----
run rag-ask --json hand.jsonl
expect_status 2
expect_err_has 'builtin:extractive gives no JSON answer'
run rag-ask -m builtin:oracle hand.jsonl
expect_status 2
expect_err_has 'unknown built-in model'
run rag-ask -m nomodel hand.jsonl
expect_status 2
expect_err_has 'is not PROVIDER:NAME'
run rag-ask -m acme:big hand.jsonl
expect_status 2
expect_err_has 'unknown provider'
run rag-ask --temperature 3 hand.jsonl
expect_status 2
run rag-ask --max-tokens 0 hand.jsonl
expect_status 2
run rag-ask --seed x hand.jsonl
expect_status 2
run rag-ask --filter 'a == 1' hand.jsonl
expect_status 2
expect_err_has 'need -s STORE'
run rag-ask -k 3 hand.jsonl
expect_status 2
run rag-ask -n 100 hand.jsonl
expect_status 2
# a key file that is not there is a configuration error
printf '[openai]\napi_key_file = %s/no-such-key\n' "$PWD" > conf4
run env RAGKIT_CONFIG=conf4 OPENAI_API_KEY= rag-ask -m openai:x --dry-run hand.jsonl
expect_status 2
expect_lines 0
run rag-ask --format text --dry-run hand.jsonl
expect_status 2
run rag-ask --bogus
expect_status 2

# The model comes from --model, then RAG_CHAT_MODEL, then ask.model
printf '[ask]\nmodel = ollama:from-file\n' > conf
run env RAGKIT_CONFIG=conf rag-ask --dry-run hand.jsonl
expect_status 0
expect_lines 2
expect_out_has '"model":"ollama:from-file","url":"http://127.0.0.1:11434/api/chat"'
expect_out_has '"body":{"model":"from-file","messages":[{"role":"user","content":"x"}],"stream":true}'
run env RAGKIT_CONFIG=conf RAG_CHAT_MODEL=openai:from-env OPENAI_API_KEY= rag-ask --dry-run hand.jsonl
expect_out_has '"model":"openai:from-env","url":"https://api.openai.com/v1/chat/completions","headers":{"Content-Type":"application/json"},'
run env RAGKIT_CONFIG=conf RAG_CHAT_MODEL=openai:from-env rag-ask -m builtin:extractive --dry-run hand.jsonl
expect_out_has '"model":"builtin:extractive","url":null'
printf '[ask]\nmodl = x\n' > conf2
run env RAGKIT_CONFIG=conf2 rag-ask hand.jsonl
expect_status 2
expect_err_has 'conf2:2: unknown setting'
expect_lines 0

for bad in 'retries = 500' 'retries = x' 'timeout = 0' 'timeout = soon' 'connect_timeout = -1'; do
	printf '# settings\n[ask]\n%s\n' "$bad" > conf3
	run env RAGKIT_CONFIG=conf3 rag-ask hand.jsonl
	expect_status 2
	expect_err_has 'conf3:3: ask.'
	expect_lines 0
done
run rag-ask --retries 101 hand.jsonl
expect_status 2
run rag-ask --timeout 0 hand.jsonl
expect_status 2

# The reader of the output going away is not an error
run "rag-ask prompts.jsonl | head -c 10"
expect_status 0

finish
