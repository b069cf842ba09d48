#!/bin/sh
# rag-prompt: bad hits, bad templates, bad options and budgets that cannot
# be met; each with its message, its exit status, and no half prompt.
. "${top_srcdir:-.}/tests/lib.sh"

good1='{"id":"a","text":"Alpha.","query":"one","qid":"q1","rank":1}'
good2='{"id":"b","text":"Beta.","query":"two","qid":"q2","rank":1}'

# A line that is not a JSON object: the file and the line; the group
# before is written whole, the group it is in is not.
printf '%s\n%s\n[1,2]\n%s\n' "$good1" "$good2" "$good1" > notobj.jsonl
run rag-prompt -s S notobj.jsonl
expect_status 1
expect_err 'rag-prompt: notobj.jsonl:3: expected a JSON object'
expect_lines 1
check '"$py" -c "import json,sys; p=json.loads(open(\".out\").read()); sys.exit(0 if p[\"qid\"] == \"q1\" else 1)"' "the whole group before a bad line is not written"
run 'rag-prompt -s S < notobj.jsonl'
expect_status 1
expect_err 'rag-prompt: <stdin>:3: expected a JSON object'
printf '%s\n{"text": oops}\n' "$good1" > syntax.jsonl
run rag-prompt syntax.jsonl
expect_status 1
expect_err_has 'rag-prompt: syntax.jsonl:2:'
expect_lines 0

# Hits without what a prompt needs, or with reserved fields of the wrong type.
bad_hit()
{
	printf '%s\n%s\n' "$good1" "$1" > bad.jsonl
	run rag-prompt bad.jsonl
	expect_status 1
	expect_err "rag-prompt: bad.jsonl:2: $2"
	expect_lines 0
}
bad_hit '{"text":"x"}' 'hit has no "query"'
bad_hit '{"query":"one","qid":"q1"}' 'hit has no "text"'
bad_hit '{"query":["one"],"text":"x"}' '"query" is not a string'
bad_hit '{"query":"one","qid":"q1","text":7}' '"text" is not a string'
bad_hit '{"query":"one","qid":"q1","text":"x","start":1.5,"end":3}' '"start" is not a whole number'
bad_hit '{"query":"one","qid":"q1","text":"x","start":4,"end":3}' '"end" (3) is before "start" (4)'
bad_hit '{"query":"one","qid":"q1","text":"x","line_end":"9"}' '"line_end" is not a whole number'
bad_hit '{"query":"one","qid":"q1","text":"x","rank":"1"}' '"rank" is not a whole number'
bad_hit '{"query":"one","qid":{},"text":"x"}' '"qid" is not a string or an integer'
bad_hit '{"query":"one","qid":"q1","text":"x","id":[1]}' '"id" is not a string or an integer'
printf '%s\n{"query":"one","qid":"q1","text":"\377"}\n' "$good1" > utf8.jsonl
run rag-prompt utf8.jsonl
expect_status 1
expect_err_has 'rag-prompt: utf8.jsonl:2:'
expect_lines 0

# A file that is not there: its name.  The files are one stream, so the
# group still open when it was reached is not written.
printf '%s\n' "$good1" > one.jsonl
run rag-prompt -s S one.jsonl missing.jsonl
expect_status 1
expect_err 'rag-prompt: missing.jsonl: cannot open: No such file or directory'
expect_lines 0

# A prompt over the budget without any passage: an error naming the query.
printf '%s\n%s\n' "$good1" "$good2" > two.jsonl
run rag-prompt -n 10 two.jsonl
expect_status 1
expect_err_has 'rag-prompt: two.jsonl:1: query "one": the prompt takes'
expect_err_has 'tokens without any source, more than the budget of 10'
expect_lines 0
# a budget that holds the question but not a word of the text: no sources, a warning
printf '{"id":"w","text":"Supercalifragilistic.","query":"q","rank":1}\n' > word.jsonl
cat > bare.tmpl <<'EOF2'
{{#sources}}{{text}}{{/sources}}
EOF2
run rag-prompt -n 1 -s '' -t bare.tmpl word.jsonl
expect_status 0
expect_err 'rag-prompt: word.jsonl:1: warning: query "q": source [1] "w" left out: not a word of it fits in 1 tokens'
expect_out '{"query":"q","messages":[{"role":"system","content":""},{"role":"user","content":""}],"sources":[]}'

# Template errors: the file, the line and the placeholder; status 2 and
# no output at all, even with good input.
bad_template()
{
	printf "$1" > bad.tmpl
	run rag-prompt -t bad.tmpl two.jsonl
	expect_status 2
	expect_err "rag-prompt: bad.tmpl:$2"
	check '[ ! -s "$out" ]' "output despite a bad template: $1"
}
bad_template 'Question: {{question}}\n\n{{questoin}}\n' '3: unknown placeholder "{{questoin}}" (the fields of a source go inside {{#sources}}...{{/sources}})'
bad_template '{{text}}\n' '1: unknown placeholder "{{text}}" (the fields of a source go inside {{#sources}}...{{/sources}})'
bad_template 'a\n{{#sources}}\n{{text}}\n' '2: {{#sources}} is not closed (no {{/sources}})'
bad_template '{{question}}\n{{/sources}}\n' '2: "{{/sources}}" without {{#sources}}'
bad_template '{{#sources}}\n{{#sources}}\n{{/sources}}\n' '2: "{{#sources}}" inside {{#sources}} of line 1'
bad_template '{{#sources}}{{context}}{{/sources}}' '1: "{{context}}" inside {{#sources}} of line 1'
bad_template '{{#hits}}{{/hits}}' '1: unknown block "{{#hits}}" (the only block is {{#sources}})'
bad_template 'x\n{{question\n' '2: unclosed placeholder "{{question"'
bad_template '{{two words}}' '1: bad placeholder "{{two words}}"'
bad_template 'ok\n\377\n' '2: invalid UTF-8'
run rag-prompt -t nothere.tmpl two.jsonl
expect_status 2
expect_err 'rag-prompt: nothere.tmpl: cannot open the template: No such file or directory'
expect_lines 0
# a template larger than 1 MiB
"$py" -c 'print("x" * (1 << 20 + 1))' > huge.tmpl
run rag-prompt -t huge.tmpl two.jsonl
expect_status 2
expect_err 'rag-prompt: huge.tmpl: the template is larger than 1048576 bytes'

# Usage errors: status 2 and a pointer to --help, nothing read or written.
for args in "-n x" "-n -1" "--max-tokens" "--format html" "--bogus" "-x"; do
	run "rag-prompt $args two.jsonl"
	expect_status 2
	expect_err_has "Try 'rag-prompt --help' for more information."
	expect_lines 0
done
run rag-prompt -n x two.jsonl
expect_err "rag-prompt: --max-tokens needs a whole number, not \"x\"
Try 'rag-prompt --help' for more information."
run rag-prompt --format html two.jsonl
expect_err_has 'rag-prompt: unknown format "html" (use ndjson or text)'
run rag-prompt --bogus two.jsonl
expect_err_has 'rag-prompt: unknown option "--bogus"'
run rag-prompt two.jsonl --max-tokens
expect_err_has 'rag-prompt: option "--max-tokens" needs a value'
run "rag-prompt -s \"\$(printf 'bad\\377')\" two.jsonl"
expect_status 2
expect_err_has 'rag-prompt: --system is not valid UTF-8'

# Empty input: no prompts, no error.
run 'rag-prompt < /dev/null'
expect_status 0
expect_err ''
expect_lines 0

finish
