#!/bin/sh
# rag-filter: bad expressions (the message, its line and column, the
# expression with a caret); bad records (the file and line; what came
# before is written whole, nothing after); --skip-bad; files that cannot
# be read; usage errors; a closed or full output.
. "${top_srcdir:-.}/tests/lib.sh"

small=0
[ "${RAG_VALGRIND:-0}" = 1 ] && small=1

printf '%s\n' '{"a":1,"s":"x"}' '{"a":2,"s":"y"}' > good.jsonl

# ---- bad expressions: status 2, nothing read or written ----
# $1 the expression, $2 the expected messages.
bad_expr()
{
	run rag-filter -- "$1" good.jsonl
	expect_status 2
	expect_err "$2"
	check '[ ! -s "$out" ]' "output after a bad expression: $1"
}
bad_expr 'a ==' "rag-filter: expression:1:5: expected a value after '=='
  a ==
      ^"
bad_expr 'a = 1' "rag-filter: expression:1:3: '=' is not an operator here: compare with '=='
  a = 1
    ^"
bad_expr '(a == 1' "rag-filter: expression:1:1: this '(' has no closing ')'
  (a == 1
  ^"
bad_expr 'a == 1 b' "rag-filter: expression:1:8: unexpected 'b': expected 'and', 'or' or the end
  a == 1 b
         ^"
bad_expr 'a in 1' "rag-filter: expression:1:6: expected a list in [ ] after 'in', not '1'
  a in 1
       ^"
bad_expr 'a == {p}' "rag-filter: expression:1:6: no value given for the parameter {p}
  a == {p}
       ^"
bad_expr 'foo(a) == 1' "rag-filter: expression:1:1: unknown function 'foo'
  foo(a) == 1
  ^"
bad_expr '' "rag-filter: expression:1:1: the expression is empty
  
  ^"
bad_expr 'a == "abc' "rag-filter: expression:1:6: this string has no closing \"
  a == \"abc
       ^"
# The column counts bytes; the caret stands under the character.
bad_expr 's == "é" and' "rag-filter: expression:1:14: expected a condition after 'and'
  s == \"é\" and
              ^"
# Later lines: the line number, and that line; a tab stays a tab.
tab=$(printf '\t')
bad_expr "a == 1 and
${tab}b == " "rag-filter: expression:2:7: expected a value after '=='
  ${tab}b == 
  ${tab}     ^"
bad_expr "a == 1
or (b == 2
and c" "rag-filter: expression:2:4: this '(' has no closing ')'
  or (b == 2
     ^"
# A bad regular expression: where in the expression, and PCRE2's words.
run rag-filter 's =~ "a(b" or a == 1' good.jsonl
expect_status 2
expect_err_has 'rag-filter: expression:1:6: bad regular expression: '
expect_err_has '  s =~ "a(b" or a == 1
       ^'
# Invalid UTF-8 in the expression.
run rag-filter "$(printf 's == "\377"')" good.jsonl
expect_status 2
expect_err_has 'rag-filter: expression:1:7: the expression is not valid UTF-8'
# A long line: the message, the line and the caret, whole; nothing else.
long=$(printf '%02100d' 0)
run rag-filter -- "s == \"$long\" and" good.jsonl
expect_status 2
check '[ "$(head -n 1 "$err")" = "rag-filter: expression:1:2112: expected a condition after '"'"'and'"'"'" ]' \
	"long expression: $(head -c 200 "$err")"
check '[ "$(tail -c 1 "$err" | od -An -c | tr -d " ")" = "\\n" ] && [ "$(wc -l < "$err")" -le 3 ] &&
	! LC_ALL=C grep -q "[^ -~]" "$err"' \
	"a long expression's caret is not whole lines of text: $(tail -c 60 "$err" | od -c | tail -n 4)"
# Nothing is read before the expression compiles: no complaint about input.
run 'rag-filter "a ==" nope.jsonl < /dev/null'
expect_status 2
check '! grep -q nope "$err"' "a bad expression, and an input was opened: $(cat "$err")"

# ---- bad records: the file and line; the records before, whole ----
# Each bad line, after a good one that matches and before one that would.
bad_record()
{
	printf '{"a":1,"n":1}\n%s\n{"a":1,"n":3}\n' "$1" > bad.jsonl
	run rag-filter 'a == 1' bad.jsonl
	expect_status 2
	case $2 in
	*:) expect_err_has "rag-filter: bad.jsonl:2$2" ;; # the rest is the JSON reader's
	*) expect_err "rag-filter: bad.jsonl:2$2" ;;
	esac
	expect_out '{"a":1,"n":1}'
}
bad_record '[1,2]' ': expected a JSON object'
bad_record '"a"' ': expected a JSON object'
bad_record 'null' ': expected a JSON object'
bad_record '{"a":1,}' ":8: invalid JSON: expected a string key, found '}'"
bad_record '{"a" 1}' ":6: invalid JSON: expected ':' after a key, found '1'"
bad_record '{"a":1} x' ":9: invalid JSON: unexpected 'x' after the value"
bad_record '{"a":1}{"a":1}' ":8: invalid JSON: unexpected '{' after the value"
bad_record '{a:1}' ":2: invalid JSON: expected a string key, found 'a'"
bad_record '{"a":01}' ':'
bad_record '{"a":"x' ':'
bad_record '{"a":1e999}' ':'
bad_record "$(printf '{"a":"caf\351"}')" ':10: invalid UTF-8'
printf '{"a":1,"n":1}\n{"a":1}\000\n{"a":1,"n":3}\n' > nul.jsonl
run rag-filter 'a == 1' nul.jsonl
expect_status 2
expect_err 'rag-filter: nul.jsonl:2:8: invalid JSON: unexpected byte 0x00 after the value'
expect_out '{"a":1,"n":1}'
# Standard input is <stdin>; blank lines count; the last line may lack
# its newline.
run 'printf "{\"a\":1}\n\n \n{\"a\":\n{\"a\":1}\n" | rag-filter "a == 1"'
expect_status 2
expect_err "rag-filter: <stdin>:4:6: invalid JSON: expected a value, found the end of the line"
expect_out '{"a":1}'
run 'printf "{\"a\":1}\n{\"a\":1" | rag-filter -v "a == 2" good.jsonl -'
expect_status 2
expect_err "rag-filter: <stdin>:2:7: invalid JSON: expected ',' or '}' in an object, found the end of the line"
expect_out '{"a":1,"s":"x"}
{"a":1}'
# Far into a large input: every record before it written whole, none after.
n=6000
[ "$small" = 1 ] && n=2000
awk -v n=$n 'BEGIN { for (i = 1; i <= n; i++)
	printf "{\"i\":%d,\"even\":%s,\"pad\":\"%s\"}\n", i, i % 2 ? "false" : "true", "padding to make the output flush in blocks" }' > head.jsonl
cat head.jsonl > mid.jsonl
printf '{"i":0,"even":tru}\n' >> mid.jsonl
cat head.jsonl >> mid.jsonl
grep '"even":true' head.jsonl > want
run rag-filter 'even' mid.jsonl
expect_status 2
expect_err "rag-filter: mid.jsonl:$((n + 1)):15: invalid JSON: unexpected 't'"
cmp -s "$out" want || fail "the records before a bad one were not written whole, or more was: $(wc -c < "$out") bytes, want $(wc -c < want)"
run 'rag-filter even < mid.jsonl | cat'
expect_status 0
check 'cmp -s "$out" want' "through a pipe, the records before a bad one were not written whole"
# A bad record in a later file: the earlier file's records are written.
printf '{"a":1,"n":1}\n[2]\n{"a":1,"n":3}\n' > bad.jsonl
run rag-filter -v 'i < 0' good.jsonl bad.jsonl
expect_status 2
expect_err_has 'rag-filter: bad.jsonl:2:'
expect_out '{"a":1,"s":"x"}
{"a":2,"s":"y"}
{"a":1,"n":1}'

# ---- --skip-bad: each bad record reported, the rest filtered; status 2 ----
cat > mixed.jsonl <<'EOF'
{"a":1,"n":1}
[1]

{"a":1,"n":4,}
{"a":2,"n":5}
{"a":1,"n":6}
EOF
run rag-filter --skip-bad 'a == 1' mixed.jsonl
expect_status 2
expect_err "rag-filter: mixed.jsonl:2: expected a JSON object
rag-filter: mixed.jsonl:4:14: invalid JSON: expected a string key, found '}'
rag-filter: left out 2 bad inputs (--skip-bad)"
expect_out '{"a":1,"n":1}
{"a":1,"n":6}'
run rag-filter --skip-bad -c 'a == 1' mixed.jsonl
expect_status 2
expect_out 2
run rag-filter --skip-bad -v 'a == 1' mixed.jsonl good.jsonl
expect_status 2
expect_out '{"a":2,"n":5}
{"a":2,"s":"y"}'
# Nothing bad: no report, the usual status.
run rag-filter --skip-bad 'a == 1' good.jsonl
expect_status 0
expect_err ''
run rag-filter --skip-bad 'a == 3' good.jsonl
expect_status 1
expect_err ''
# Bad records and no match: still 2.
run rag-filter --skip-bad 'a == 3' mixed.jsonl
expect_status 2
check '[ ! -s "$out" ]' "--skip-bad wrote a record that does not match"
# A regular expression that hits PCRE2's match limit: about the record.
printf '{"s":"%s"}\n{"s":"aab"}\n' "$(printf '%040d' 0 | tr 0 a)b" > re.jsonl
run rag-filter 's =~ "^(a+)+$" or s =~ "^a+b$"' re.jsonl
expect_status 2
expect_err_has 'rag-filter: re.jsonl:1: '
check '[ ! -s "$out" ]' "a record was written after a failed match: $(cat "$out")"
run rag-filter --skip-bad 's =~ "^(a+)+$" or s =~ "^a+b$"' re.jsonl
expect_status 2
expect_err_has 'rag-filter: re.jsonl:1: '
expect_err_has 'rag-filter: left out 1 bad input (--skip-bad)'
expect_out '{"s":"aab"}'

# ---- files that cannot be read ----
run rag-filter 'a == 1' nope.jsonl
expect_status 2
expect_err 'rag-filter: nope.jsonl: cannot open: No such file or directory'
check '[ ! -s "$out" ]' "output for a file that is not there"
# The records of the files before it are written.
run rag-filter 'a >= 1' good.jsonl nope.jsonl
expect_status 2
expect_err 'rag-filter: nope.jsonl: cannot open: No such file or directory'
expect_out '{"a":1,"s":"x"}
{"a":2,"s":"y"}'
run rag-filter 'a == 1' .
expect_status 2
expect_err_has 'rag-filter: .: '
if [ "$(id -u)" != 0 ]; then
	cp good.jsonl secret.jsonl
	chmod 000 secret.jsonl
	run rag-filter 'a == 1' secret.jsonl
	expect_status 2
	expect_err 'rag-filter: secret.jsonl: cannot open: Permission denied'
fi
# --skip-bad leaves such a file out like a bad record and goes on.
run rag-filter --skip-bad 'a == 1' nope.jsonl good.jsonl
expect_status 2
expect_err 'rag-filter: nope.jsonl: cannot open: No such file or directory
rag-filter: left out 1 bad input (--skip-bad)'
expect_out '{"a":1,"s":"x"}'
run rag-filter --skip-bad 'a == 1' . good.jsonl
expect_status 2
expect_err_has 'rag-filter: .: '
expect_out '{"a":1,"s":"x"}'

# ---- usage errors: status 2, the message, a pointer to --help ----
usage()
{
	run "rag-filter $1 < good.jsonl"
	expect_status 2
	expect_err "rag-filter: $2
Try 'rag-filter --help' for more information."
	check '[ ! -s "$out" ]' "output after a usage error: rag-filter $1"
}
usage '' 'no filter expression given'
usage '-v -c' 'no filter expression given'
usage '--skip-bad --' 'no filter expression given'
usage '--bogus "a == 1"' 'unknown option "--bogus"'
usage '-x "a == 1"' 'unknown option "-x"'
usage '-vx "a == 1"' 'unknown option "-x"'
usage '"a == 1" -p' 'option "-p" needs a value'
usage '"a == 1" --param' 'option "--param" needs a value'
usage '-p x "a == {x}"' '--param wants NAME=VALUE, not "x"'
usage '-p =1 "a == 1"' '--param wants NAME=VALUE, not "=1"'
usage "-p 'a-b=1' 'a == 1'" "--param \"a-b=1\": a name is letters, digits and '_'"
usage "-p \"\$(printf 'x=\\377')\" 'a == {x}'" '--param "x=\xff": the value is not valid UTF-8'
# Options after the expression and files are options (as getopt permutes).
run rag-filter 'a == 1' good.jsonl -c
expect_status 0
expect_out 1

# ---- the reader of the output goes away: quietly ----
n=100000
[ "$small" = 1 ] && n=20000
awk -v n=$n 'BEGIN { for (i = 0; i < n; i++) printf "{\"i\":%d,\"text\":\"some text to fill the pipe\"}\n", i }' > many.jsonl
run bash -c 'set -o pipefail; rag-filter "i >= 0" many.jsonl | head -n 1'
expect_status 0
expect_err ''
expect_out '{"i":0,"text":"some text to fill the pipe"}'
run bash -c 'set -o pipefail; rag-filter -v "i < 0" many.jsonl - < many.jsonl | head -c 10 > /dev/null'
expect_status 0
expect_err ''
# A full disk is an error, reported once.
if [ -w /dev/full ]; then
	run 'rag-filter "i >= 0" many.jsonl > /dev/full'
	expect_status 2
	expect_err 'rag-filter: error writing output: No space left on device'
	run 'rag-filter -c "i >= 0" many.jsonl > /dev/full'
	expect_status 2
	expect_err 'rag-filter: error writing output: No space left on device'
fi

finish
