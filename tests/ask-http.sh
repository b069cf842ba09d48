#!/bin/sh
# rag-ask against tests/provider-server.py, which speaks the OpenAI chat
# completions (SSE streams) and Ollama /api/chat (NDJSON streams) formats
# on 127.0.0.1: the answer, its citations and usage, streamed and not,
# for both providers; the request carries the options and the key (to
# OpenAI only); --stream shows the pieces on stderr; --dry-run sends
# nothing and shows no key.  Each failure -- a status retried, a status
# that is final, a stream cut part-way, an error event inside the
# stream, a malformed body, a timeout, a refused connection -- is a clear
# message and exit 1, with no answer record for that question while the
# next question is still answered; finish_reason "length" is written and
# warned about; unknown markers are reported.
. "${top_srcdir:-.}/tests/lib.sh"

command -v "$py" > /dev/null || { echo "python3 is needed"; exit 77; }

key=sk-test-chat-9a8b7c6d5e
start_provider --key "$key"
OPENAI_BASE_URL="$provider/v1"
OPENAI_API_KEY=$key
OLLAMA_HOST=$provider
export OPENAI_BASE_URL OPENAI_API_KEY OLLAMA_HOST

# Two prompt records; the server echoes the first 12 words of the user
# message (whose own markers are then cited too) and cites [1].
cat > prompts.jsonl <<'EOF'
{"query":"what colour is the sky?","qid":"q1","messages":[{"role":"system","content":"Answer from the sources."},{"role":"user","content":"Sources: [1] The sky is blue. [2] Grass is green. Question: what colour is the sky?"}],"sources":[{"n":1,"id":"a#1","source":"a.txt","line_start":1,"line_end":1,"text":"The sky is blue."},{"n":2,"id":"b#1","source":"b.txt","text":"Grass is green."}]}
{"query":"and the grass?","qid":"q2","messages":[{"role":"user","content":"Grass is green."}],"sources":[{"n":1,"id":"b#1","source":"b.txt","text":"Grass is green."}]}
EOF
echo1='Echo: Sources: [1] The sky is blue. [2] Grass is green. Question: what [1]'
echo2='Echo: Grass is green. [1]'
# usage: words of every message's content, and of the answer
usage1='"usage":{"prompt_tokens":20,"completion_tokens":14,"total_tokens":34}'
usage2='"usage":{"prompt_tokens":3,"completion_tokens":5,"total_tokens":8}'

# ---- each provider, streamed and not ----
for m in openai:chat-m ollama:chat-l; do
	for s in --stream --no-stream; do
		provider_reset
		run rag-ask -m $m $s prompts.jsonl
		expect_status 0
		expect_out "{\"query\":\"what colour is the sky?\",\"qid\":\"q1\",\"answer\":\"$echo1\",\"citations\":[{\"n\":1,\"id\":\"a#1\",\"source\":\"a.txt\",\"line_start\":1,\"line_end\":1},{\"n\":2,\"id\":\"b#1\",\"source\":\"b.txt\"}],\"model\":\"$m\",$usage1,\"finish_reason\":\"stop\"}
{\"query\":\"and the grass?\",\"qid\":\"q2\",\"answer\":\"$echo2\",\"citations\":[{\"n\":1,\"id\":\"b#1\",\"source\":\"b.txt\"}],\"model\":\"$m\",$usage2,\"finish_reason\":\"stop\"}"
		if [ $s = --stream ]; then
			# the pieces, as they came, on stderr: each answer on its line
			expect_err "$echo1
$echo2"
			check "grep -q '\"stream\": true' '$provider_log'" "$m: no stream asked for"
		else
			expect_err ""
			check "grep -q '\"stream\": false' '$provider_log'" "$m: a stream asked for"
		fi
		case $m in
		openai:*)
			check "grep -q '\"authorization\": \"Bearer $key\"' '$provider_log'" "the key was not sent"
			[ $s = --stream ] && check "grep -q '\"stream_options\": {\"include_usage\": true}' '$provider_log'" \
				"usage was not asked for in the stream"
			;;
		*) check "! grep -q authorization '$provider_log'" "a key was sent to ollama" ;;
		esac
	done
done

# Not a terminal, no --stream: streamed, but nothing shown
provider_reset
run rag-ask -m openai:chat-m prompts.jsonl
expect_status 0
expect_lines 2
expect_err ""
check "grep -q '\"stream\": true' '$provider_log'" "the default is not to stream"

# ---- the request carries the options ----
provider_reset
provider_fault '{"answer": "{\"colour\": \"blue\", \"cite\": \"[1]\"}", "times": 2}'
run rag-ask -m openai:chat-m --temperature 0.25 --max-tokens 64 --seed 7 --json --no-stream prompts.jsonl
expect_status 0
check "grep -q '\"temperature\": 0.25, \"max_tokens\": 64, \"seed\": 7, \"response_format\": {\"type\": \"json_object\"}' '$provider_log'" \
	"openai: options not sent"
expect_out_has '"json":{"colour":"blue","cite":"[1]"}'
provider_reset
run rag-ask -m ollama:chat-l --temperature 0.25 --max-tokens 64 --seed 7 --no-stream prompts.jsonl
expect_status 0
check "grep -q '\"options\": {\"temperature\": 0.25, \"num_predict\": 64, \"seed\": 7}' '$provider_log'" \
	"ollama: options not sent"
# --json and an answer that is not JSON: no record for it
provider_reset
run rag-ask -m ollama:chat-l --json prompts.jsonl
expect_status 1
expect_lines 0
expect_err_has 'the answer is not the JSON object --json asked for'
check "grep -q '\"format\": \"json\"' '$provider_log'" "ollama: format json not sent"

# ---- citations: several, in order; unknown markers reported ----
provider_reset
provider_fault '{"answer": "Blue [2, 1], green [2] and [7][1]."}'
run rag-ask -m openai:chat-m prompts.jsonl
expect_status 0
check "head -n 1 '$out' | grep -qF '\"citations\":[{\"n\":2,\"id\":\"b#1\",\"source\":\"b.txt\"},{\"n\":1,\"id\":\"a#1\",\"source\":\"a.txt\",\"line_start\":1,\"line_end\":1}],\"unknown_citations\":[7],'" \
	"citations not mapped in order, or the unknown one not reported"

# ---- --dry-run: the requests, no key, nothing sent ----
provider_reset
run rag-ask -m openai:chat-m --dry-run --temperature 0 prompts.jsonl
expect_status 0
expect_lines 2
expect_out_has "{\"query\":\"what colour is the sky?\",\"qid\":\"q1\",\"model\":\"openai:chat-m\",\"url\":\"$provider/v1/chat/completions\",\"headers\":{\"Content-Type\":\"application/json\",\"Authorization\":\"Bearer (hidden)\"},\"body\":{\"model\":\"chat-m\",\"messages\":[{\"role\":\"system\""
expect_out_has '"stream":true,"stream_options":{"include_usage":true},"temperature":0'
check "! grep -q '$key' '$out' '$err'" "--dry-run showed the key"
check "[ ! -s '$provider_log' ]" "--dry-run sent a request"

# ---- failures ----
# A 500 is retried; the answer comes on the second attempt.
for m in openai:chat-m ollama:chat-l; do
	provider_reset
	path=/v1/chat/completions
	[ "${m%%:*}" = ollama ] && path=/api/chat
	provider_fault "{\"path\": \"$path\", \"status\": 500, \"retry_after\": \"0\"}"
	run rag-ask -m $m prompts.jsonl
	expect_status 0
	expect_lines 2
	check "[ \$(grep -c '\"path\": \"$path\"' '$provider_log') = 3 ]" "$m: the 500 was not retried once"

	# Final failures: the first question gets no record, the second is answered.
	for fault in '{"status": 400, "message": "bad things"}' '{"cut_after": 2}' \
		'{"stream_error": "the model is overloaded"}' '{"malformed": true}' '{"status": 401}'; do
		provider_reset
		provider_fault "$fault"
		opts=
		case $fault in *malformed*) opts=--no-stream ;; esac
		run rag-ask -m $m --retries 1 $opts prompts.jsonl
		expect_status 1
		expect_lines 1
		expect_out_has '"qid":"q2"'
		case $fault in
		*400*) expect_err_has "$path: HTTP status 400: bad things" ;;
		*401*) expect_err_has "$path: HTTP status 401: injected failure 401" ;;
		*cut_after*) expect_err_has 'stream' ;;
		*stream_error*) expect_err_has "$path: the stream carried an error: " ;
			expect_err_has 'the model is overloaded' ;;
		*malformed*) expect_err_has "$path: " ;;
		esac
		check "grep -q 'prompts.jsonl:1' '$err'" "$m $fault: the failed record is not named"
	done
	# cut before the end of the stream, after some text was shown
	provider_reset
	provider_fault '{"cut_after": 3}'
	run rag-ask -m $m --stream --retries 0 prompts.jsonl
	expect_status 1
	expect_lines 1
	expect_err_has 'Echo: Sources: [1] '

	# finish_reason "length": written and warned about
	provider_reset
	provider_fault '{"finish_reason": "length"}'
	run rag-ask -m $m prompts.jsonl
	expect_status 0
	expect_lines 2
	check "head -n 1 '$out' | grep -q '\"finish_reason\":\"length\"}'" "$m: finish_reason length not written"
	expect_err_has 'was cut at the token limit'
done

# The wrong key: 401, not retried
provider_reset
run env OPENAI_API_KEY=wrong rag-ask -m openai:chat-m prompts.jsonl
expect_status 1
expect_lines 0
expect_err_has 'HTTP status 401'
check "[ \$(grep -c chat/completions '$provider_log') = 2 ]" "a 401 was retried"

# A server that quotes the key back: the message shows [key] instead
provider_reset
provider_fault "{\"status\": 401, \"message\": \"Incorrect API key provided: $key.\"}"
run rag-ask -m openai:chat-m prompts.jsonl
expect_status 1
expect_lines 1
expect_err_has 'HTTP status 401: Incorrect API key provided: [key].'
check "! grep -q '$key' '$err'" "the key was shown in a message"
provider_reset
provider_fault "{\"stream_error\": \"bad key $key\"}"
run rag-ask -m openai:chat-m prompts.jsonl
expect_status 1
expect_err_has 'bad key [key]'
check "! grep -q '$key' '$err'" "the key was shown in a message from the stream"

provider_reset
provider_fault "{\"error_body\": \"not allowed for $key\"}"
run rag-ask -m openai:chat-m --no-stream prompts.jsonl
expect_status 1
expect_err_has 'not allowed for [key]'
check "! grep -q '$key' '$err'" "the key was shown from a 200 error body"
# a key that a message would cut part-way is still not shown, even in part
provider_reset
provider_fault "{\"stream_error\": \"$(printf 'x%.0s' $(seq 135)) $key\"}"
run rag-ask -m openai:chat-m prompts.jsonl
expect_status 1
check "! grep -q 'sk-test' '$err'" "a part of the key was shown"

# A stream that is whole is answered, whatever the connection does after it
for m in openai:chat-m ollama:chat-l; do
	provider_reset
	provider_fault '{"hold_open": 30}'
	run rag-ask -m $m --timeout 5 --retries 0 prompts.jsonl
	expect_status 0
	expect_lines 2
done
provider_reset
provider_fault '{"no_blank_end": true}'
run rag-ask -m openai:chat-m prompts.jsonl
expect_status 0
expect_lines 2
expect_out_has "\"answer\":\"$echo1\""

# A hang past the timeout
provider_reset
provider_fault '{"hang": 5}'
run rag-ask -m openai:chat-m --timeout 0.5 --retries 0 prompts.jsonl
expect_status 1
expect_lines 1
expect_err_has 'timed out'

# Nobody listening
port=$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
run env OPENAI_BASE_URL=http://127.0.0.1:$port/v1 rag-ask -m openai:chat-m --retries 0 prompts.jsonl
expect_status 1
expect_lines 0
expect_err_has "http://127.0.0.1:$port/v1/chat/completions: no answer"

# ---- -s: search, prompt and a remote model in one ----
mkdir -p docs
printf 'The sky is blue on a clear day.\n' > docs/sky.txt
printf 'Grass is green in spring.\n' > docs/grass.txt
rag-chunk docs/ | rag-index -q kb || fail "indexing failed"
provider_reset
run rag-ask -s kb -k 1 -m ollama:chat-l --system 'Be brief.' 'what colour is the sky?'
expect_status 0
expect_out_has '"citations":[{"n":1,"id":"docs/sky.txt#1","doc":"docs/sky.txt","source":"docs/sky.txt"'
check "grep -q 'The sky is blue on a clear day' '$provider_log'" "-s: the passage was not sent"
check "grep -q 'Be brief.' '$provider_log'" "-s: --system was not sent"

finish
