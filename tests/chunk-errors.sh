#!/bin/sh
# rag-chunk: every kind of bad input, with its exact message and status,
# and output that stays whole lines of valid NDJSON.
. "${top_srcdir:-.}/tests/lib.sh"

valid_ndjson()
{
	python3 -c 'import json,sys
for n, line in enumerate(open(sys.argv[1], "rb"), 1):
    assert line.endswith(b"\n"), "line %d is cut short" % n
    json.loads(line)' "$out"
}

printf 'good text\n' > good.txt
printf 'line one\nli\377ne two\n' > bad.txt

# Invalid UTF-8 in a file: the file, the line and the byte offset.
run rag-chunk good.txt bad.txt
expect_status 1
expect_err 'rag-chunk: bad.txt:2: invalid UTF-8 at byte 11 (use --lossy to replace it)'
expect_lines 1
check valid_ndjson "output before the error is not whole NDJSON"
# --lossy replaces it, says how many, and keeps offsets into the file.
run rag-chunk --lossy bad.txt
expect_status 0
expect_err 'rag-chunk: replaced 1 invalid UTF-8 sequence with U+FFFD (--lossy)'
expect_out_has "$(printf '"start":0,"end":18,"line_start":1,"line_end":2,"text":"line one\\nli\357\277\275ne two"')"

# Missing and unreadable files are reported, the others read (as cat(1)
# does), and the status is 1.
run rag-chunk good.txt nope.txt good.txt
expect_status 1
expect_err 'rag-chunk: nope.txt: No such file or directory'
expect_lines 2
mkdir sub
printf 'x\n' > sub/f.txt
ln -s missing-target sub/dangling.txt
run rag-chunk sub
expect_status 1
expect_err 'rag-chunk: sub/dangling.txt: No such file or directory'
expect_out_has '"source":"sub/f.txt"'
# A loader that fails is the same: the file cannot be read.
printf 'a\n' > one.up
printf 'b\n' > two.up
run rag-chunk --loader 'up=grep -v b {}' one.up two.up
expect_status 1
expect_err 'rag-chunk: two.up: loader "grep -v b {}" exited with status 1'
expect_lines 1
# Names that would garble a terminal are escaped in messages.
run rag-chunk "$(printf 'no\033[2Jpe')"
expect_err 'rag-chunk: no\x1b[2Jpe: No such file or directory'
if [ "$(id -u)" != 0 ]; then
	printf 'secret\n' > locked.txt
	chmod 000 locked.txt
	run rag-chunk locked.txt
	expect_status 1
	expect_err 'rag-chunk: locked.txt: cannot open: Permission denied'
	rm -f locked.txt
fi

# Bad NDJSON lines: the file and line, and what is wrong.
printf '{"id":"a","text":"fine"}\n[1,2]\n' > notobj.jsonl
run rag-chunk notobj.jsonl
expect_status 1
expect_err 'rag-chunk: notobj.jsonl:2: expected a JSON object'
expect_lines 1
check valid_ndjson "output before a bad line is not whole NDJSON"
printf '{"id":"a","text":"fine"}\n\n{"id":"b" "text":"x"}\n' > syntax.jsonl
run rag-chunk syntax.jsonl
expect_status 1
expect_err "rag-chunk: syntax.jsonl:3:11: invalid JSON: expected ',' or '}' in an object, found '\"'"
printf '{"id":"a","text":"caf\351"}\n' > latin1.jsonl
run rag-chunk latin1.jsonl
expect_status 1
expect_err 'rag-chunk: latin1.jsonl:1:22: invalid UTF-8'
printf '{"text":"no id"}\n' > noid.jsonl
run rag-chunk noid.jsonl
expect_status 1
expect_err 'rag-chunk: noid.jsonl:1: record has no "id"'
printf '{"id":"x"}\n' > notext.jsonl
run rag-chunk notext.jsonl
expect_status 1
expect_err 'rag-chunk: notext.jsonl:1: record has no "text"'
run rag-chunk --text-field contents notext.jsonl
expect_err 'rag-chunk: notext.jsonl:1: record has no "contents"'
printf '{"id":"x","text":42}\n' > numtext.jsonl
run rag-chunk numtext.jsonl
expect_status 1
expect_err 'rag-chunk: numtext.jsonl:1: "text" is not a string'
printf '{"id":[1],"text":"t"}\n' > arrid.jsonl
run rag-chunk arrid.jsonl
expect_err 'rag-chunk: arrid.jsonl:1: "id" is not a string or an integer'
# Fields pass through as they were written, even numbers no double holds.
printf '{"id":"y","text":"u","n":123456789012345678901,"r":1E5,"s":"caf\\u00e9","o": [1, {"k" :2}]}\n' > bigint.jsonl
run rag-chunk bigint.jsonl
expect_status 0
expect_out_has '"n":123456789012345678901,"r":1E5,"s":"caf\u00e9","o":[1,{"k":2}],"text":"u"'
run 'printf "{\"id\":1,\"text\":\"a\"}\n{oops}\n" | rag-chunk --json'
expect_err "rag-chunk: <stdin>:2:2: invalid JSON: expected a string key, found 'o'"

# A byte order mark is skipped, and offsets still count it.
printf '\357\273\277# Title\n\nBody.\n' > bom.md
run rag-chunk bom.md
expect_out_has '"start":3,"end":17,"line_start":1,"line_end":3,"headings":["Title"],"text":"# Title\n\nBody."'
printf '\357\273\277{"id":"a","text":"x"}\n' > bom.jsonl
run rag-chunk bom.jsonl
expect_status 0
expect_out_has '"text":"x"'

# --skip-bad: bad lines and files are left out and counted; status 0.
cat notobj.jsonl syntax.jsonl noid.jsonl > mixed.jsonl
run rag-chunk --skip-bad mixed.jsonl nope.txt good.txt bad.txt
expect_status 0
expect_err 'rag-chunk: left out 5 bad inputs (--skip-bad)'
check '[ "$(field doc | tr "\n" " ")" = "a a good.txt " ]' "--skip-bad kept: $(field doc | tr '\n' ' ')"
run rag-chunk --skip-bad --verbose mixed.jsonl
expect_err_has 'rag-chunk: mixed.jsonl:2: expected a JSON object'
expect_err_has 'rag-chunk: mixed.jsonl:6: record has no "id"'
expect_err_has 'rag-chunk: left out 3 bad inputs (--skip-bad)'
# --lossy on NDJSON lines.
run rag-chunk --lossy latin1.jsonl
expect_status 0
expect_out_has "$(printf '"text":"caf\357\277\275"')"

# A file name that is not UTF-8 cannot become a JSON string.
printf 'x\n' > "$(printf 'n\377me.txt')"
run "rag-chunk $(printf 'n\377me.txt')"
expect_status 1
expect_err_has 'rag-chunk: file name is not valid UTF-8: "n\xffme.txt"'

# A list read from standard input cannot name standard input.
run 'printf "good.txt\0-\0" | rag-chunk --files0-from=-'
expect_status 1
expect_err 'rag-chunk: <stdin>:2: a list read from standard input cannot name "-"'

# A closed pipe ends the program quietly with status 0.
mkdir big
i=0
while [ $i -lt 300 ]; do
	printf 'Paragraph %d of a file that is long enough to need many chunks.\n\n' $i
	i=$((i + 1))
done > big/one.txt
for f in 2 3 4 5 6 7 8 9; do cp big/one.txt big/$f.txt; done
run bash -c 'set -o pipefail; rag-chunk --size 40 big/ | head -n 1'
expect_status 0
expect_lines 1
expect_err ''

# Progress goes to standard error only when asked (or on a terminal),
# and is cleared at the end.
run 'rag-chunk --size 40 big/ > /dev/null'
expect_err ''
run 'rag-chunk --progress --size 40 big/ > /dev/null'
expect_status 0
expect_err_has 'rag-chunk: '
check 'grep -q "files, .* documents, .* chunks" "$err" && [ "$(tail -c 4 "$err" | od -An -c | tr -d " ")" = "\\r033[K" ]' \
	"--progress shows no progress line, or leaves it on the screen"
run 'rag-chunk --quiet --progress --size 40 big/ > /dev/null'
expect_err ''

# A failed write is reported once, with status 1.
if [ -w /dev/full ]; then
	run 'rag-chunk --size 40 big/ > /dev/full'
	expect_status 1
	expect_err 'rag-chunk: error writing output: No space left on device'
fi

finish
