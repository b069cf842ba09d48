#!/bin/sh
# rag-embed with the built-in model (no network): "vector" and "model" go
# last and every other field stays as written; records without text pass
# through byte for byte; unit vectors, deterministic, similar texts closer;
# --field, --prefix, --query; the configuration file, the environment and
# the options in their order; bad values and bad records with their
# file and line; the summary; a reader that goes away; no cache written;
# a large record.  (The remote models are tests/embed-http.sh's.)
. "${top_srcdir:-.}/tests/lib.sh"

command -v python3 > /dev/null || { echo "python3 is needed"; exit 77; }
check_py="python3 $top_srcdir/tests/embedcheck.py"

small=0
[ "${RAG_VALGRIND:-0}" = 1 ] && small=1

cfg_dir="$XDG_CONFIG_HOME/ragkit"
cfg="$cfg_dir/config"
mkdir -p "$cfg_dir"

# Line N of stdout ($out).
line_of()
{
	sed -n "$1p" "$out"
}

# The vector of line N of FILE (default $out), as written.
vec_at()
{
	sed -n "$1p" "${2:-$out}" | sed -n 's/.*"vector":\(\[[^]]*\]\).*/\1/p'
}

# Prints, for each line of FILE, the dimension and the norm of its vector,
# or "-" when it has none.
vec_info()
{
	awk '{ if (match($0, /"vector":\[[^]]*\]/)) {
		s = substr($0, RSTART + 10, RLENGTH - 11); n = split(s, a, ","); t = 0
		for (i = 1; i <= n; i++) t += a[i] * a[i]
		printf "%d %.5f\n", n, sqrt(t)
	} else print "-" }' "$1"
}

# Whether records I and J (0-based) of FILE have the same vector, bit for
# bit (the same floats are written the same way).
same_vec()
{
	a=$(vec_at $(($2 + 1)) "$1")
	b=$(vec_at $(($3 + 1)) "$1")
	[ -n "$a" ] && [ "$a" = "$b" ]
}

# Whether records I and J (0-based) of FILE both have vectors, and different ones.
diff_vec()
{
	a=$(vec_at $(($2 + 1)) "$1")
	b=$(vec_at $(($3 + 1)) "$1")
	[ -n "$a" ] && [ -n "$b" ] && [ "$a" != "$b" ]
}

# The vector of one text (plain ASCII, no quotes) with the given options;
# when there is none, words that match no vector.
vec_of()
{
	text=$1
	shift
	v=$(printf '{"text":"%s"}\n' "$text" | rag-embed -q "$@" | sed -n 's/.*"vector":\(\[[^]]*\]\).*/\1/p')
	printf '%s\n' "${v:-no vector for $text $*}"
}

# The value of a simple member (a string without escapes, a number, null)
# of each record of stdout, one a line; null when it is missing.
simple_field()
{
	awk -v k="\"$1\":" '{ i = index($0, k); if (!i) { print "null"; next }
		s = substr($0, i + length(k))
		if (substr(s, 1, 1) == "\"") { s = substr(s, 2); print substr(s, 1, index(s, "\"") - 1) }
		else { match(s, /^[^,}]*/); print substr(s, 1, RLENGTH) } }' "$out"
}

# ---- the output ----

cat > in.jsonl <<'EOF'
{"id": "a",  "text":"x \u00e9", "meta": {"k": [1, 2.50]}}
{"id":"b"}

{ "id" : "c", "text" : null }
   
{"id":"d","text":""}
{"vector":[1,2],"id":"e","text":"hello world","model":"old","z":{"a" : 1}}
{"id":"f","text":"!!!"}
EOF
run rag-embed --dim 16 in.jsonl
expect_status 0
expect_lines 6
check '[ "$(line_of 2)" = "{\"id\":\"b\"}" ]' "a record without text changed: $(line_of 2)"
check '[ "$(line_of 3)" = "{ \"id\" : \"c\", \"text\" : null }" ]' "a record with null text changed: $(line_of 3)"
check '[ "$(line_of 4)" = "{\"id\":\"d\",\"text\":\"\"}" ]' "a record with empty text changed: $(line_of 4)"
# the fields as written (their keys and values byte for byte), then vector and model
check 'line_of 1 | grep -q "^{\"id\":\"a\",\"text\":\"x \\\\u00e9\",\"meta\":{\"k\": \[1, 2.50\]},\"vector\":\[[^]]*\],\"model\":\"builtin:hash\"}\$"' \
	"the fields of a record were not kept as written: $(line_of 1)"
check 'line_of 5 | grep -q "^{\"id\":\"e\",\"text\":\"hello world\",\"z\":{\"a\" : 1},\"vector\":\[[^]]*\],\"model\":\"builtin:hash\"}\$"' \
	"old vector and model not replaced: $(line_of 5 | cut -c 1-200)"
check '[ "$(line_of 5 | grep -o "\"vector\"" | wc -l)" = 1 ] && [ "$(line_of 5 | grep -o "\"model\"" | wc -l)" = 1 ]' \
	"vector or model written twice: $(line_of 5 | cut -c 1-200)"
check '[ "$(simple_field model | tr "\n" " ")" = "builtin:hash null null null builtin:hash builtin:hash " ]' \
	"model wrong: $(simple_field model | tr '\n' ' ')"
# unit vectors of 16; a text without words gives zeros
vec_info "$out" > info
check '[ "$(tr "\n" " " < info)" = "16 1.00000 - - - 16 1.00000 16 0.00000 " ]' \
	"dimensions or norms wrong: $(tr '\n' ' ' < info)"
check 'line_of 6 | grep -q "\"vector\":\[0.0\(,0.0\)\{15\}\]"' "a text without words: $(line_of 6)"
# Keys spelled with escapes are the same keys: replaced, not duplicated.
printf '%s\n' '{"text":"a b","vect\u006fr":[9],"m\u006fdel":"old"}' > esc.jsonl
run rag-embed --dim 4 esc.jsonl
expect_status 0
check 'python3 -c "import json, sys
def pairs(ps):
    keys = [k for k, _ in ps]
    if len(keys) != len(set(keys)):
        raise SystemExit(\"duplicate keys: %s\" % keys)
    return dict(ps)
json.loads(open(sys.argv[1]).read(), object_pairs_hook=pairs)" "$out"' "an escaped \"vector\" or \"model\" key was kept beside the new one: $(cat "$out")"

# the default dimension, and --dim
printf '{"text":"the default dimension"}\n' > one.jsonl
run rag-embed one.jsonl
expect_status 0
check '[ "$(vec_info "$out")" = "512 1.00000" ]' "default dimension: $(vec_info "$out")"
run rag-embed --dim 3 one.jsonl
expect_status 0
check '[ "$(vec_info "$out" | cut -d " " -f 1)" = 3 ]' "--dim 3: $(vec_info "$out")"

# ---- determinism ----

cat > det.jsonl <<'EOF'
{"text":"Retrieval augmented generation with small programs"}
{"text":"hello world"}
{"text":"Hello, World!"}
{"text":"HELLO   world..."}
{"text":"Retrieval augmented generation with small programs"}
{"text":"Café Crème"}
{"text":"CAFÉ crème"}
{"text":"world hello"}
EOF
run rag-embed -q det.jsonl
cp "$out" det1.out
run rag-embed -q det.jsonl
check 'cmp -s "$out" det1.out' "two runs differ"
check 'same_vec "$out" 0 4' "the same text gave two vectors"
check 'same_vec "$out" 1 2 && same_vec "$out" 1 3' "case or punctuation changed the vector"
check 'same_vec "$out" 5 6' "Unicode case changed the vector"
check 'diff_vec "$out" 1 7' "word order changed nothing (the word pairs should)"
check 'diff_vec "$out" 0 1' "different texts gave the same vector"
# the same text alone, in another file, after other records: the same vector
printf '{"x":1}\n{"text":"hello world"}\n' > det2.jsonl
run rag-embed -q det2.jsonl det.jsonl
check 'same_vec "$out" 1 3' "a vector depends on the records around it"

# ---- similarity ----

cat > sim.jsonl <<'EOF'
{"text":"the cat sat on the mat"}
{"text":"a cat was sitting on the mat"}
{"text":"stock prices fell sharply in early trading"}
{"text":"indexing documents for full text search"}
{"text":"the search index of the documents"}
{"text":"bake the bread for forty minutes"}
EOF
run rag-embed -q sim.jsonl
expect_status 0
c01=$($check_py cosine "$out" 0 1)
c02=$($check_py cosine "$out" 0 2)
c34=$($check_py cosine "$out" 3 4)
c35=$($check_py cosine "$out" 3 5)
check "awk 'BEGIN { exit !($c01 > $c02 + 0.1) }'" \
	"related texts ($c01) are not closer than unrelated ones ($c02)"
check "awk 'BEGIN { exit !($c34 > $c35 + 0.1) }'" \
	"related texts ($c34) are not closer than unrelated ones ($c35)"

# ---- --field, --prefix ----

printf '%s\n' '{"id":1,"body":"beta gamma","text":"other words"}' '{"id":2,"text":"only text"}' > fld.jsonl
run rag-embed --dim 32 --field body fld.jsonl
expect_status 0
check '[ "$(line_of 2)" = "{\"id\":2,\"text\":\"only text\"}" ]' "--field: a record without the field changed"
check '[ "$(vec_at 1)" = "$(vec_of "beta gamma" --dim 32)" ]' \
	"--field body: not the vector of the body"
check 'line_of 1 | grep -q "^{\"id\":1,\"body\":\"beta gamma\",\"text\":\"other words\",\"vector\""' \
	"--field: the text field was touched: $(line_of 1 | cut -c 1-100)"
run rag-embed --dim 32 --field body --strict fld.jsonl
expect_status 1
expect_err_has 'rag-embed: fld.jsonl:2: record has no text in "body" (--strict)'

# --prefix goes before the text
check '[ "$(vec_of "beta" --dim 32 --prefix "alpha ")" = "$(vec_of "alpha beta" --dim 32)" ]' \
	"--prefix is not put before the text"
check 'a=$(vec_of "beta" --dim 32 --prefix "alpha "); b=$(vec_of "beta" --dim 32)
	[ "${a#[}" != "$a" ] && [ "${b#[}" != "$b" ] && [ "$a" != "$b" ]' \
	"--prefix changed nothing"
run rag-embed --dim 32 --prefix 'alpha ' fld.jsonl
check 'grep -q "\"text\":\"other words\"" "$out" && ! grep -q alpha "$out"' "--prefix was written into a record"

# ---- --query ----

cat > q.txt <<'EOF'
what is a store
   {"qid":"q2","query":"how do filters work"}
{"qid":"q3","text":"fallback text"}
{"qid":"q4","query":"the query","text":"not this"}
say "hi" \ back

{"qid":"q6","query":null,"text":"not this either"}
EOF
run rag-embed --query --dim 32 q.txt
expect_status 0
expect_lines 6
check '[ "$(field query)" = "what is a store
how do filters work
null
the query
say \"hi\" \\ back
null" ]' "--query: queries wrong: $(field query)"
check '[ "$(simple_field qid | tr "\n" " ")" = "null q2 q3 q4 null q6 " ]' "--query: qid not kept: $(simple_field qid | tr '\n' ' ')"
check '[ "$(simple_field text | sed -n 3p)" = "fallback text" ]' "--query: text not kept"
check 'line_of 1 | grep -q "^{\"query\":\"what is a store\",\"vector\":\[[^]]*\],\"model\":\"builtin:hash\"}\$"' \
	"--query: a plain line is not {\"query\": LINE, ...}: $(line_of 1 | cut -c 1-80)"
check '[ "$(line_of 6)" = "{\"qid\":\"q6\",\"query\":null,\"text\":\"not this either\"}" ]' \
	"--query: a null query was not passed through: $(line_of 6)"
vec_info "$out" > info
check '[ "$(tr "\n" " " < info)" = "32 1.00000 32 1.00000 32 1.00000 32 1.00000 32 1.00000 - " ]' \
	"--query: vectors wrong: $(tr '\n' ' ' < info)"
check '[ "$(vec_at 1)" = "$(vec_of "what is a store" --dim 32)" ] &&
	[ "$(vec_at 3)" = "$(vec_of "fallback text" --dim 32)" ] &&
	[ "$(vec_at 4)" = "$(vec_of "the query" --dim 32)" ]' "--query: a vector is not that of its query"
# --field names the field of NDJSON queries
printf '{"qid":"q1","q":"the query","query":"not this"}\n' > qf.jsonl
run rag-embed --query --field q --dim 32 qf.jsonl
check '[ "$(vec_at 1)" = "$(vec_of "the query" --dim 32)" ]' \
	"--query --field q: not the vector of q"
# without --query a plain line is not JSON
run rag-embed --dim 32 q.txt
expect_status 1
expect_err_has 'rag-embed: q.txt:1:1: invalid JSON'

# ---- the configuration file, the environment, the options ----

# the vectors wanted, made while there is no configuration file
want_ab24=$(vec_of "alpha beta" --dim 24)
want_b24=$(vec_of "beta" --dim 24)
want_gd24=$(vec_of "gamma delta" --dim 24)
want_ad24=$(vec_of "alpha delta" --dim 24)
cat > "$cfg" <<'EOF'
# settings of other programs are theirs
[chunk]
size = 100
[embed]
model = builtin:hash
dim = 24
field = body
prefix = "alpha "
query_prefix = "gamma "
EOF
printf '{"body":"beta"}\n' > body.jsonl
printf 'delta\n' > query.txt
run rag-embed -q body.jsonl
expect_status 0
check '[ "$(vec_info "$out")" = "24 1.00000" ]' "embed.dim not applied: $(vec_info "$out")"
check '[ "$(vec_at 1)" = "$want_ab24" ]' \
	"embed.field or embed.prefix not applied"
run rag-embed -q --dim 8 body.jsonl
check '[ "$(vec_info "$out")" = "8 1.00000" ]' "--dim does not override embed.dim: $(vec_info "$out")"
run rag-embed -q --field text body.jsonl
check '[ "$(cat "$out")" = "{\"body\":\"beta\"}" ]' "--field does not override embed.field"
run rag-embed -q --prefix "" --dim 24 body.jsonl
check '[ "$(vec_at 1)" = "$want_b24" ]' \
	"--prefix \"\" does not override embed.prefix"
# queries get embed.query_prefix, and --prefix overrides it
run rag-embed -q --query query.txt
check '[ "$(vec_at 1)" = "$want_gd24" ]' \
	"--query: embed.query_prefix not applied"
run rag-embed -q --query --prefix "alpha " query.txt
check '[ "$(vec_at 1)" = "$want_ad24" ]' \
	"--query --prefix does not override embed.query_prefix"

# the model: the file, under RAG_EMBED_MODEL, under -m
printf '[embed]\nmodel = builtin:fromfile\n' > "$cfg"
run rag-embed one.jsonl
expect_status 2
expect_err_has '"builtin:fromfile"'
run env RAG_EMBED_MODEL=builtin:hash rag-embed -q --dim 4 one.jsonl
expect_status 0
check '[ "$(simple_field model)" = builtin:hash ]' "RAG_EMBED_MODEL does not override the file"
run rag-embed -q -m builtin:hash --dim 4 one.jsonl
expect_status 0
run env RAG_EMBED_MODEL=builtin:fromenv rag-embed one.jsonl
expect_status 2
expect_err_has '"builtin:fromenv"'
check '! grep -q fromfile "$err"' "the file's model was used over RAG_EMBED_MODEL"
run env RAG_EMBED_MODEL=builtin:fromenv rag-embed -q -m builtin:hash --dim 4 one.jsonl
expect_status 0
check '[ "$(simple_field model)" = builtin:hash ]' "-m does not override RAG_EMBED_MODEL"
run env RAG_EMBED_MODEL= rag-embed -m builtin:hash -q --dim 4 one.jsonl
expect_status 0

# an unknown setting: the file and its line
printf '[embed]\ndim = 8\n\n# a comment\nbogus = 1\n' > "$cfg"
run rag-embed one.jsonl
expect_status 2
expect_err "rag-embed: $cfg:5: unknown setting \"embed.bogus\""
check '[ ! -s "$out" ]' "output after a configuration error"
# [openai] and [ollama] settings that are not rag-embed's are left to others
printf '[openai]\nchat_model = x\n[ollama]\nnum_ctx = 4\n[embed]\ndim = 8\n' > "$cfg"
run rag-embed -q one.jsonl
expect_status 0
check '[ "$(vec_info "$out")" = "8 1.00000" ]' "other programs' settings broke the file"
# bad values in the file: the file and line, exit 2
bad_conf()
{
	printf '[embed]\n%s\n' "$1" > "$cfg"
	run rag-embed ${2-} one.jsonl
	expect_status 2
	expect_err_has "rag-embed: $cfg:2: "
	check '[ "$(grep -o "$cfg" "$err" | wc -l)" = 1 ]' "the file is named more than once, or not once: $(cat "$err")"
	check '[ ! -s "$out" ]' "output after a bad setting: $1"
}
bad_conf 'dim = 0'
bad_conf 'dim = many'
bad_conf 'batch = 0'
bad_conf 'jobs = -2'
bad_conf 'timeout = abc'
bad_conf 'cache = maybe'
bad_conf 'cache_size = 1' '-m openai:unused'
rm -f "$cfg"

# ---- bad options ----

usage()
{
	run "rag-embed $1 < one.jsonl"
	expect_status 2
	expect_err "rag-embed: $2
Try 'rag-embed --help' for more information."
	check '[ ! -s "$out" ]' "output after a usage error: rag-embed $1"
}
usage '--dim 0' '--dim must be at least 1, not 0'
usage '--dim x' '--dim needs a whole number, not "x"'
usage '--dim 65537' '--dim must be at most 65536, not 65537'
usage '--batch 0' '--batch must be at least 1, not 0'
usage '--jobs 0' '--jobs must be at least 1, not 0'
usage '-j 0' '--jobs must be at least 1, not 0'
usage '--timeout -1' '--timeout needs a number of seconds above 0, not "-1"'
usage '--timeout abc' '--timeout needs a number of seconds above 0, not "abc"'
usage '--timeout 0' '--timeout needs a number of seconds above 0, not "0"'
usage '--retries -1' '--retries needs a whole number, not "-1"'
usage '--bogus' 'unknown option "--bogus"'
usage '-x' 'unknown option "-x"'
usage '--field' 'option "--field" needs a value'
usage '-m nonsense' 'model "nonsense" is not PROVIDER:MODEL (builtin:hash, openai:NAME, ollama:NAME)'
usage '-m foo:bar' 'unknown provider in model "foo:bar" (there are builtin, openai and ollama)'
usage '-m builtin:other' 'unknown built-in model "builtin:other" (there is builtin:hash)'
usage '-m builtin:' 'model "builtin:" is not PROVIDER:MODEL (builtin:hash, openai:NAME, ollama:NAME)'
usage "--prefix \"\$(printf 'caf\\351')\"" 'the prefix is not valid UTF-8'

# ---- bad records ----

# Each bad line, after two good records and before another.
printf '{"id":1,"text":"one"}\n{"id":2}\n' > good2.jsonl
rag-embed -q --dim 8 good2.jsonl > good2.out
bad_record()
{
	printf '{"id":1,"text":"one"}\n{"id":2}\n%s\n{"id":4,"text":"four"}\n' "$1" > bad.jsonl
	run rag-embed --dim 8 bad.jsonl
	expect_status 1
	case $2 in
	*:) expect_err_has "rag-embed: bad.jsonl:3$2" ;;
	*) expect_err "rag-embed: bad.jsonl:3$2" ;;
	esac
	expect_lines 2
	check 'cmp -s "$out" good2.out' "the records before a bad one were not written whole, or more was: $1"
}
bad_record '{"text": tru}' ':10: invalid JSON:'
bad_record '{"text":"x",}' ":13: invalid JSON: expected a string key, found '}'"
bad_record 'not json' ':1: invalid JSON:'
bad_record '[{"text":"x"}]' ': expected a JSON object'
bad_record '"text"' ': expected a JSON object'
bad_record '{"text":12}' ': "text" is not a string'
bad_record '{"text":["a"]}' ': "text" is not a string'
bad_record '{"text":{"a":1}}' ': "text" is not a string'
bad_record "$(printf '{"text":"caf\351"}')" ':13: invalid UTF-8'
# standard input is <stdin>; blank lines count
run 'printf "{\"text\":\"a\"}\n\n{\"text\" 1}\n" | rag-embed --dim 8'
expect_status 1
expect_err_has 'rag-embed: <stdin>:3:9: invalid JSON:'
expect_lines 1
# --strict: a record without text is an error, named by its line
printf '{"text":"a"}\n{"text":"b"}\n{"id":3}\n{"text":"d"}\n' > strict.jsonl
run rag-embed --strict --dim 8 strict.jsonl
expect_status 1
expect_err 'rag-embed: strict.jsonl:3: record has no text in "text" (--strict)'
expect_lines 2
printf '{"text":null}\n' > null.jsonl
run rag-embed --strict --dim 8 null.jsonl
expect_status 1
expect_err 'rag-embed: null.jsonl:1: record has no text in "text" (--strict)'
printf '{"text":""}\n' > empty.jsonl
run rag-embed --strict --dim 8 empty.jsonl
expect_status 1
expect_err 'rag-embed: empty.jsonl:1: record has no text in "text" (--strict)'
# Far into a large input: every record before it written whole, none after.
n=5000
[ "$small" = 1 ] && n=500
awk -v n=$n 'BEGIN { for (i = 1; i <= n; i++) printf "{\"i\":%d,\"text\":\"record number %d of the large input\"}\n", i, i }' > head.jsonl
cat head.jsonl > mid.jsonl
printf '{"i":0,"text":tru}\n' >> mid.jsonl
cat head.jsonl >> mid.jsonl
run rag-embed -q --dim 16 mid.jsonl
expect_status 1
expect_err "rag-embed: mid.jsonl:$((n + 1)):15: invalid JSON: unexpected 't'"
expect_lines $n
check "$check_py lines '$out'" "the records before a bad one were not written whole"
check 'tail -n 1 "$out" | grep -q "^{\"i\":$n,"' "the last record before a bad one: $(tail -n 1 "$out" | cut -c 1-40)"
run 'rag-embed -q --dim 16 < mid.jsonl | cat'
check '[ "$(wc -l < "$out")" = $n ] && '"$check_py lines '$out'" \
	"through a pipe, the records before a bad one were not written whole"

# ---- files ----

printf '{"id":"a1","text":"first file"}\n{"id":"a2"}\n' > a.jsonl
printf '{"id":"b1","text":"second file"}\n' > b.jsonl
run 'rag-embed -q --dim 8 a.jsonl - b.jsonl < one.jsonl'
expect_status 0
check '[ "$(simple_field id | tr "\n" " ")" = "a1 a2 null b1 " ]' "files not read in order: $(simple_field id | tr '\n' ' ')"
run rag-embed --dim 8 a.jsonl nope.jsonl b.jsonl
expect_status 1
expect_err 'rag-embed: nope.jsonl: cannot open: No such file or directory'
check '[ "$(simple_field id | tr "\n" " ")" = "a1 a2 " ]' "the records of the file before a missing one: $(simple_field id | tr '\n' ' ')"
run rag-embed --dim 8 .
expect_status 1
expect_err_has 'rag-embed: .: '

# ---- messages ----

printf '{"text":"a"}\n{"x":1}\n{"text":"b"}\n{"text":null}\n{"text":"c"}\n' > sum.jsonl
run rag-embed --dim 8 sum.jsonl
expect_status 0
expect_err_has 'rag-embed: 3 embedded'
expect_err_has ', 2 passed through, '
check '[ "$(wc -l < "$err")" = 1 ]' "more than the summary on stderr"
run rag-embed -q --dim 8 sum.jsonl
expect_status 0
expect_err ''
expect_lines 5
run rag-embed --quiet --dim 8 sum.jsonl
expect_err ''
run rag-embed --help
expect_status 0
expect_err ''
expect_out_has 'Usage: rag-embed [OPTION]... [FILE]...'
expect_out_has '--query'
run rag-embed --version
expect_status 0
expect_err ''
check 'grep -q "^rag-embed (ragkit) [0-9]" "$out"' "--version: $(cat "$out")"

# ---- the reader goes away: quietly ----

awk 'BEGIN { for (i = 0; i < 20000; i++) printf "{\"i\":%d,\"text\":\"some text to fill the pipe %d\"}\n", i, i }' > many.jsonl
run '( rag-embed many.jsonl; echo $? > head.st ) | head -n 1 > head.out; exit "$(cat head.st)"'
expect_status 0
check '[ ! -s "$err" ] || [ "$(grep -vc "^rag-embed: [0-9]* embedded" "$err")" = 0 ]' \
	"more than the summary on stderr after the reader went away"
check '[ "$(wc -l < head.out)" = 1 ] && grep -q "^{\"i\":0,\"text\":\"some text to fill the pipe 0\",\"vector\":\[" head.out' \
	"head -n 1 did not get the first record: $(cut -c 1-60 head.out)"
if [ -w /dev/full ]; then
	run 'rag-embed many.jsonl > /dev/full'
	expect_status 1
	expect_err_has 'rag-embed: '
	expect_err_has 'No space left on device'
fi

# ---- no cache for the built-in model ----

check '[ ! -e "$XDG_CACHE_HOME/ragkit" ]' "builtin:hash wrote a cache: $(find "$XDG_CACHE_HOME" 2> /dev/null | head -n 5)"
printf '[embed]\ncache = yes\n' > "$cfg"
run rag-embed -q --dim 8 sum.jsonl
expect_status 0
check '[ ! -e "$XDG_CACHE_HOME/ragkit" ]' "builtin:hash wrote a cache with embed.cache = yes"
rm -f "$cfg"

# ---- a large record ----

python3 -c 'import json, sys
words = ["w%d" % (i % 4000) for i in range(int(sys.argv[1]) * 1024 * 1024 // 6)]
print(json.dumps({"id": "big", "text": " ".join(words)}))
print(json.dumps({"id": "after", "text": "a small one"}))' 2 > big.jsonl
run rag-embed -q big.jsonl
expect_status 0
expect_lines 2
vec_info "$out" > info
check '[ "$(tr "\n" " " < info)" = "512 1.00000 512 1.00000 " ]' "a large record: $(tr '\n' ' ' < info)"
check 'python3 -c "import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
sys.exit(not (a[0][\"text\"] == b[0][\"text\"] and a[1][\"id\"] == \"after\"))" "$out" big.jsonl' \
	"a large record's text was not kept"

# the text cannot be in a field rag-embed writes
run sh -c 'echo "{\"id\":\"a\",\"model\":\"some text\"}" | rag-embed --field model'
expect_status 2
expect_err_has 'the text cannot be in "model"'
expect_lines 0

finish
