#!/bin/sh
# rag-embed against tests/provider-server.py, which speaks the OpenAI and
# Ollama embedding formats on 127.0.0.1: each provider's vectors land on
# the right records in input order; batches split by count and by
# estimated tokens; order holds when requests finish out of order; 429
# with Retry-After, 500, a hang past the timeout, a cut body, a malformed
# body, a wrong count, a wrong dimension, a bad number and a bad index
# each give the documented behaviour, and what is written is whole
# records; the cache answers a second run and only changed texts are
# sent again; the API key goes to the server and nowhere else.
. "${top_srcdir:-.}/tests/lib.sh"

command -v "$py" > /dev/null || { echo "python3 is needed"; exit 77; }
check_py="$py $top_srcdir/tests/embedcheck.py"

key=sk-test-4f1d2c9b8a7e6d5c
start_provider --key "$key"
OPENAI_BASE_URL="$provider/v1"
OPENAI_API_KEY=$key
OLLAMA_HOST=$provider
export OPENAI_BASE_URL OPENAI_API_KEY OLLAMA_HOST

# Twenty records, some without text.
"$py" - <<'EOF'
import json
with open("in.jsonl", "w") as f:
    for i in range(20):
        r = {"id": "r%02d" % i, "doc": "d%d" % (i // 5), "n": i}
        if i % 7 != 3:
            r["text"] = "record number %d says %s" % (i, "word " * (i % 5))
        f.write(json.dumps(r) + "\n")
EOF
with_text=$(grep -c '"text"' in.jsonl)

# ---- each provider ----

run rag-embed -m openai:emb-small --no-cache --batch 4 in.jsonl
expect_status 0
check "$check_py vectors '$out' in.jsonl openai:emb-small 8" "openai: vectors or records wrong"
expect_err_has "$with_text embedded (0 from the cache), 3 passed through"
check "[ \"\$($check_py requests '$provider_log' /v1/embeddings | sort -n | tr '\n' ' ')\" = '1 4 4 4 4 ' ]" \
	"openai: batches of 4 expected"
check "grep -q '\"authorization\": \"Bearer $key\"' '$provider_log'" "the key was not sent"

provider_reset
run rag-embed -m ollama:emb-local --no-cache in.jsonl
expect_status 0
check "$check_py vectors '$out' in.jsonl ollama:emb-local 8" "ollama: vectors or records wrong"
check "[ \"\$($check_py requests '$provider_log' /api/embed)\" = $with_text ]" \
	"ollama: one request of every text expected"

check "! grep -q authorization '$provider_log'" "ollama: a key was sent"

# ---- rag-search embeds a query with the model of the store's vectors ----
for m in openai:emb-small ollama:emb-local; do
	run rag-embed -m $m --no-cache in.jsonl
	expect_status 0
	grep '"text"' "$out" > emb.jsonl
	kb=kb-${m%%:*}
	run rag-index -q $kb emb.jsonl
	expect_status 0
	provider_reset
	run "printf '%s\n' '{\"qid\":\"q\",\"query\":\"record number 6 says word \"}' | rag-search --mode vector -k 1 --fields id $kb"
	expect_status 0
	expect_out_has '"id":"r06"'
	check "grep -q 'record number 6 says word ' '$provider_log'" "$m: the query was not sent to be embedded"
	case $m in
	ollama:*) check "! grep -q authorization '$provider_log'" "rag-search sent a key to ollama" ;;
	*) check "grep -q '\"authorization\": \"Bearer $key\"' '$provider_log'" "rag-search did not send the key" ;;
	esac
done

# --dim is asked of the model; --prefix goes before each text.
provider_reset
run rag-embed -m openai:emb-small --no-cache --dim 12 --prefix 'search_document: ' in.jsonl
expect_status 0
check "$check_py vectors '$out' in.jsonl openai:emb-small 12 --prefix 'search_document: '" \
	"--dim/--prefix: vectors wrong"
check "grep -q '\"dimensions\": 12' '$provider_log'" "--dim was not sent as dimensions"

# A query mode: plain lines are queries.
printf 'what is a store\n{"qid":"q2","query":"how do filters work"}\n' > q.txt
provider_reset
run rag-embed -m ollama:emb-local --no-cache --query q.txt
expect_status 0
check "[ \"\$(field query)\" = 'what is a store
how do filters work' ]" "--query: queries wrong"
check "[ \"\$(field qid)\" = 'null
q2' ]" "--query: qid not kept"

# Slow input: requests move on while rag-embed waits for its input, and
# a query is answered before the input ends (a program that asks in turn).
provider_reset
run sh -c '(echo q1; echo q2; sleep 2; echo q3) | rag-embed -m openai:emb-small --no-cache --query --timeout 1 --retries 0 -j 2 > slow.out 2> slow.err; echo "status $?" >> slow.err'
check "grep -q 'status 0' slow.err && [ \$(wc -l < slow.out) = 3 ]" \
	"slow input: requests timed out while the input paused: \$(cat slow.err)"
mkfifo ask.fifo
sleep 30 > ask.fifo &
holder=$!
rag-embed -m openai:emb-small --no-cache --query < ask.fifo > ask.out 2> /dev/null &
ask_pid=$!
echo q1 > ask.fifo
i=0
while [ ! -s ask.out ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
check "[ -s ask.out ] && kill -0 $ask_pid 2> /dev/null" "a query was not answered before the input ended"
kill $holder 2> /dev/null
wait $ask_pid $holder 2> /dev/null

# A bad record: the records before it still get their vectors and go out.
head -n 12 in.jsonl > bad.jsonl
echo '{"id": "bad", "text": ' >> bad.jsonl
tail -n 8 in.jsonl >> bad.jsonl
provider_reset
run rag-embed -m openai:emb-small --no-cache --batch 4 bad.jsonl
expect_status 1
expect_err_has "bad.jsonl:13:"
head -n 12 in.jsonl > before.jsonl
check "$check_py vectors '$out' before.jsonl openai:emb-small 8" \
	"a bad record: the records before it were not all written with their vectors"
run rag-embed -m openai:emb-small --no-cache --batch 4 in.jsonl missing.jsonl
expect_status 1
expect_err_has "missing.jsonl"
check "$check_py vectors '$out' in.jsonl openai:emb-small 8" \
	"a missing second file: the first file's records were not all written"

# ---- batching ----

provider_reset
run rag-embed -m openai:emb-small --no-cache --batch 100 --batch-tokens 20 in.jsonl
expect_status 0
check "$check_py vectors '$out' in.jsonl openai:emb-small 8" "--batch-tokens: vectors wrong"
check "[ \$($check_py requests '$provider_log' /v1/embeddings | wc -l) -gt 3 ]" \
	"--batch-tokens 20 should split the texts into several requests"
check "[ \$($check_py requests '$provider_log' /v1/embeddings | sort -n | tail -n 1) -le 3 ]" \
	"--batch-tokens 20: a request has more than 20 estimated tokens"
check "[ \$($check_py requests '$provider_log' /v1/embeddings | paste -sd+ | bc) = $with_text ]" \
	"--batch-tokens: not every text was sent once"
provider_reset
run rag-embed -m openai:emb-small --no-cache --batch 1 in.jsonl
check "[ \$($check_py requests '$provider_log' /v1/embeddings | wc -l) = $with_text ]" \
	"--batch 1: one request per text expected"

# ---- order under concurrency: the first request is the last to answer ----

provider_reset
provider_fault '{"hang": 1}'
run rag-embed -m openai:emb-small --no-cache --batch 2 -j 4 in.jsonl
expect_status 0
check "$check_py vectors '$out' in.jsonl openai:emb-small 8" "-j 4: records out of order"

# ---- failures that are retried ----

provider_reset
provider_fault '{"status": 429, "retry_after": "1"}'
run rag-embed -m openai:emb-small --no-cache --batch 8 in.jsonl
expect_status 0
check "$check_py vectors '$out' in.jsonl openai:emb-small 8" "429: vectors wrong"
check "[ \$(grep -c '\"status\": 429' '$provider_log') = 1 ] && [ \$($check_py requests '$provider_log' /v1/embeddings | wc -l) = 4 ]" \
	"429: one retry expected"

provider_reset
provider_fault '{"status": 500}' '{"status": 503}' '{"cut_after": 1}'
run rag-embed -m openai:emb-small --no-cache --batch 100 in.jsonl
expect_status 0
check "$check_py vectors '$out' in.jsonl openai:emb-small 8" "5xx and a cut body: vectors wrong"
check "[ \$($check_py requests '$provider_log' /v1/embeddings | wc -l) = 4 ]" \
	"500, 503, a cut body: four attempts expected"

provider_reset
provider_fault '{"hang": 4}'
run rag-embed -m openai:emb-small --no-cache --batch 100 --timeout 1 --retries 1 in.jsonl
expect_status 0
check "$check_py vectors '$out' in.jsonl openai:emb-small 8" "a timeout retried: vectors wrong"

# ---- failures that stop the program ----

provider_reset
provider_fault '{"status": 500, "times": 3, "message": "the model fell over"}'
run rag-embed -m openai:emb-small --no-cache --batch 100 --retries 2 in.jsonl
expect_status 1
expect_err_has "in.jsonl:1: embedding $with_text texts: $provider/v1/embeddings answered HTTP 500 (after 3 attempts): \"the model fell over\""
expect_lines 0

# Records before a failing batch go out whole; none after it.
# (the third request fails for good: the batches of r00-r04 and r05-r08 go out)
provider_reset
provider_fault '{"hang": 0}' '{"hang": 0}' '{"status": 400, "message": "input is too long"}'
run rag-embed -m openai:emb-small --no-cache --batch 4 -j 1 in.jsonl
expect_status 1
expect_err_has "in.jsonl:10: embedding 4 texts: $provider/v1/embeddings answered HTTP 400: \"input is too long\""
check "$check_py lines '$out'" "a failure left a partial line"
expect_lines 9
check "tail -n 1 '$out' | grep -q '\"r08\"'" "the records before the failing batch were not all written"

provider_reset
provider_fault '{"hang": 3}'
run rag-embed -m openai:emb-small --no-cache --timeout 1 --retries 0 in.jsonl
expect_status 1
expect_err_has "$provider/v1/embeddings: no answer: timed out"

for f in '{"malformed": true}|an answer that is not JSON' \
	'{"count_delta": -1}|embeddings for' \
	'{"count_delta": 2}|embeddings for' \
	'{"dim_delta": 1}|embeddings of 8 and 9 dimensions' \
	'{"bad_number": true}|an answer that is not JSON' \
	'{"wrong_index": true}|index out of range'; do
	fault=${f%%|*}
	want=${f#*|}
	provider_reset
	provider_fault "$fault"
	run rag-embed -m openai:emb-small --no-cache --batch 100 in.jsonl
	expect_status 1
	expect_err_has "$want"
	expect_lines 0
done

# A shuffled answer is put back in order by its "index".
provider_reset
provider_fault '{"shuffle": true}'
run rag-embed -m openai:emb-small --no-cache --batch 100 in.jsonl
expect_status 0
check "$check_py vectors '$out' in.jsonl openai:emb-small 8" "a shuffled answer: vectors misplaced"

# A dimension other than the one asked for is an error.
provider_reset
provider_fault '{"dim_delta": 1}'
run rag-embed -m openai:emb-small --no-cache --batch 1 --dim 8 in.jsonl
expect_status 1
expect_err_has "not the 8 asked for"

# Ollama's error bodies, and a wrong key, are reported in the server's words.
run rag-embed -m ollama:missing-model --no-cache in.jsonl
expect_status 1
expect_err_has "answered HTTP 404: \"model \\\"missing-model\\\" not found"
run env OPENAI_API_KEY=sk-wrong-0000 rag-embed -m openai:emb-small --no-cache in.jsonl
expect_status 1
expect_err_has "answered HTTP 401: \"Incorrect API key provided\""
check "! grep -q sk-wrong-0000 '$err' '$out'" "a wrong key appeared in the output"

# Nothing listening: a connection error, retried, then reported.
run env OPENAI_BASE_URL=http://127.0.0.1:1/v1 rag-embed -m openai:emb-small --no-cache --retries 1 in.jsonl
expect_status 1
expect_err_has "http://127.0.0.1:1/v1/embeddings: no answer (after 2 attempts):"

# ---- the cache ----

provider_reset
run rag-embed -m openai:emb-small --batch 4 in.jsonl
expect_status 0
cp "$out" first.jsonl
expect_err_has "$with_text embedded (0 from the cache)"
check "[ -d '$XDG_CACHE_HOME/ragkit/embed' ]" "no cache directory"
provider_reset
run rag-embed -m openai:emb-small --batch 4 in.jsonl
expect_status 0
check "cmp -s '$out' first.jsonl" "a run from the cache differs"
expect_err_has "$with_text embedded ($with_text from the cache), 3 passed through, 0 requests"
check "[ ! -s '$provider_log' ]" "a run from the cache sent requests"
# one text changed: one text sent
sed 's/record number 5 says/record number five says/' in.jsonl > in2.jsonl
provider_reset
run rag-embed -m openai:emb-small --batch 4 in2.jsonl
expect_status 0
check "$check_py vectors '$out' in2.jsonl openai:emb-small 8" "cache: vectors wrong after an edit"
check "[ \"\$($check_py requests '$provider_log' /v1/embeddings)\" = 1 ]" \
	"cache: only the changed text should be sent"
expect_err_has "$((with_text - 1)) from the cache"
# another model, another dimension or another prefix is another key
provider_reset
run rag-embed -m openai:emb-small --dim 6 --batch 100 in.jsonl
check "[ \"\$($check_py requests '$provider_log' /v1/embeddings)\" = $with_text ]" \
	"cache: another dimension must not hit"
# a damaged entry is a miss, never a wrong vector
for f in $(find "$XDG_CACHE_HOME/ragkit/embed" -type f | head -n 5); do
	printf 'X' | dd of="$f" bs=1 seek=20 conv=notrunc 2> /dev/null
done
provider_reset
run rag-embed -m openai:emb-small --batch 100 in.jsonl
expect_status 0
check "$check_py vectors '$out' in.jsonl openai:emb-small 8" "cache: a damaged entry gave a wrong vector"
# concurrent runs share it safely
rm -rf "$XDG_CACHE_HOME"
pids=
for i in 1 2 3 4; do
	rag-embed -q -m openai:emb-small --batch 3 in.jsonl > "par$i.jsonl" 2> "par$i.err" &
	pids="$pids $!"
done
wait $pids
for i in 1 2 3 4; do
	check "$check_py vectors par$i.jsonl in.jsonl openai:emb-small 8" "concurrent run $i wrong"
done
check "[ -z \"\$(find '$XDG_CACHE_HOME' -name '.tmp-*')\" ]" "concurrent runs left temporary files"
# the size cap holds: 6000 entries of 272 bytes under a 1 MiB cap
rm -rf "$XDG_CACHE_HOME"
mkdir -p "$XDG_CONFIG_HOME/ragkit"
printf '[embed]\ncache_size = 1M\n' > "$XDG_CONFIG_HOME/ragkit/config"
"$py" -c 'import json
for i in range(6000): print(json.dumps({"id": i, "text": "cap text %d" % i}))' > many.jsonl
run rag-embed -q -m openai:emb-small --dim 64 --batch 500 many.jsonl
expect_status 0
size=$(find "$XDG_CACHE_HOME/ragkit/embed" -type f -exec cat {} + | wc -c)
check "[ $size -le 1250000 ] && [ $size -ge 500000 ]" \
	"the cache holds $size bytes for a cap of 1048576"
rm -f "$XDG_CONFIG_HOME/ragkit/config"
# --no-cache neither reads nor writes
rm -rf "$XDG_CACHE_HOME"
run rag-embed -m openai:emb-small --no-cache in.jsonl
check "[ ! -e '$XDG_CACHE_HOME/ragkit/embed' ]" "--no-cache wrote a cache"

# ---- the key stays secret ----

provider_reset
provider_fault '{"status": 500, "times": 2}'
run sh -c "rag-embed -m openai:emb-small --no-cache --retries 1 in.jsonl; rag-embed -m openai:emb-small --no-cache --progress in.jsonl; rag-embed --help; rag-embed -m openai:x --dim 0 in.jsonl"
check "grep -q 'HTTP 500' '$err' && grep -q r19 '$out'" "the key test did not run what it meant to"
check "! grep -q '$key' '$out' '$err'" "the key appeared in rag-embed's output"
# a server that quotes the key back in its error does not put it on stderr
provider_reset
provider_fault "{\"status\": 400, \"message\": \"the key $key is not allowed\"}"
run rag-embed -m openai:emb-small --no-cache in.jsonl
expect_status 1
expect_err_has '"the key [key] is not allowed"'
check "! grep -q '$key' '$err' '$out'" "a key quoted by the server appeared in a message"
# nor when the server quotes it where the message is cut short
provider_reset
provider_fault "{\"status\": 401, \"message\": \"$(printf '%0135d' 0) Bearer $key\"}"
run rag-embed -m openai:emb-small --no-cache in.jsonl
expect_status 1
check "! grep -q '$(printf %s "$key" | cut -c1-10)' '$err'" "part of a key quoted by the server appeared in a message"
# from a private configuration file, and not from a public one
unset OPENAI_API_KEY
mkdir -p "$XDG_CONFIG_HOME/ragkit"
printf '[openai]\napi_key = %s\n' "$key" > "$XDG_CONFIG_HOME/ragkit/config"
chmod 600 "$XDG_CONFIG_HOME/ragkit/config"
provider_reset
run rag-embed -m openai:emb-small --no-cache in.jsonl
expect_status 0
check "$check_py vectors '$out' in.jsonl openai:emb-small 8" "a key from the configuration file did not work"
# rag-search finds the key, and the server, where rag-embed does
provider_reset
printf '[openai]\napi_key = %s\nbase_url = %s\n' "$key" "$OPENAI_BASE_URL" > "$XDG_CONFIG_HOME/ragkit/config"
run env -u OPENAI_BASE_URL rag-search --mode vector -k 1 --fields id kb-openai 'record number 6 says word '
expect_status 0
expect_out_has '"id":"r06"'
check "grep -q '\"authorization\": \"Bearer $key\"' '$provider_log'" "rag-search did not send the key from the configuration file"
printf '[openai]\napi_key = %s\n' "$key" > "$XDG_CONFIG_HOME/ragkit/config"
chmod 644 "$XDG_CONFIG_HOME/ragkit/config"
run rag-embed -m openai:emb-small --no-cache in.jsonl
expect_status 2
expect_err_has "openai.api_key is in a file that others can read (mode 0644)"
check "! grep -q '$key' '$err' '$out'" "the key appeared in a message"
run rag-search --mode vector -k 1 kb-openai 'record number 6'
expect_status 2
expect_err_has "openai.api_key is in a file that others can read (mode 0644)"
check "! grep -q '$key' '$err' '$out'" "the key appeared in a message of rag-search"
# from a key file
printf '%s\n' "$key" > key.txt
chmod 600 key.txt
printf '[openai]\napi_key_file = %s\n' "$scratch/key.txt" > "$XDG_CONFIG_HOME/ragkit/config"
run rag-embed -m openai:emb-small --no-cache in.jsonl
expect_status 0
chmod 640 key.txt
run rag-embed -m openai:emb-small --no-cache in.jsonl
expect_status 2
expect_err_has "the key file can be read by others (mode 0640)"
check "! grep -q '$key' '$err' '$out'" "the key appeared in a message"
rm -f "$XDG_CONFIG_HOME/ragkit/config"
# with no key at all, none is sent
provider_reset
run rag-embed -m openai:emb-small --no-cache in.jsonl
expect_status 1
expect_err_has "HTTP 401"
check "! grep -q authorization '$provider_log'" "a key was sent with none set"

finish
