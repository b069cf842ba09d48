#!/bin/sh
# rag-chunk: directories, lists of names, NDJSON documents, loaders,
# the configuration file.
. "${top_srcdir:-.}/tests/lib.sh"

mkdir -p docs/b docs/a/deep docs/.git
printf 'alpha\n' > docs/b/two.md
printf 'beta\n' > docs/a/one.txt
printf 'gamma\n' > docs/a/deep/three.html
printf 'delta\n' > docs/z.txt
printf 'hidden\n' > docs/.secret.txt
printf 'objects\n' > docs/.git/config
printf 'bin\0ary\n' > docs/a/blob.dat

# Directories: recursive, sorted, hidden names and binary files left out.
run rag-chunk docs
expect_status 0
expect_err ''
check '[ "$(field source | tr "\n" " ")" = "docs/a/deep/three.html docs/a/one.txt docs/b/two.md docs/z.txt " ]' \
	"walk order: $(field source | tr '\n' ' ')"
run rag-chunk docs/
check '[ "$(field source | head -n 1)" = "docs/a/deep/three.html" ]' "a trailing slash changes paths"
run rag-chunk --hidden docs
expect_out_has '"source":"docs/.git/config"'
expect_out_has '"source":"docs/.secret.txt"'
run rag-chunk --verbose docs
expect_err_has 'rag-chunk: docs/a/blob.dat: binary file left out'
expect_err_has 'rag-chunk: 5 files, 4 documents, 4 chunks,'
# A binary file named on the command line is an error.
run rag-chunk docs/a/blob.dat
expect_status 1
expect_err 'rag-chunk: docs/a/blob.dat: binary file (it holds NUL bytes); convert it with --loader'

# Globs: include keeps files, exclude drops files and directories.
run rag-chunk --include '*.md' --include '*.html' docs
check '[ "$(field source | tr "\n" " ")" = "docs/a/deep/three.html docs/b/two.md " ]' \
	"--include: $(field source | tr '\n' ' ')"
run rag-chunk --exclude deep --exclude 'z.*' docs
check '[ "$(field source | tr "\n" " ")" = "docs/a/one.txt docs/b/two.md " ]' \
	"--exclude: $(field source | tr '\n' ' ')"
run rag-chunk --exclude 'a/*' docs
check '[ "$(field source | tr "\n" " ")" = "docs/b/two.md docs/z.txt " ]' \
	"--exclude with a slash: $(field source | tr '\n' ' ')"
# Files named on the command line are read whatever the globs say.
run rag-chunk --include '*.md' docs/z.txt
expect_out_has '"source":"docs/z.txt"'

# A symbolic link loop is reported once and not followed; every file once.
ln -s .. docs/a/up
run rag-chunk docs
expect_status 0
expect_err 'rag-chunk: docs/a/up: symbolic link loop, not followed'
expect_lines 4
rm docs/a/up
# Links to files are followed.
ln -s ../z.txt docs/b/link.txt
run rag-chunk docs/b
expect_out_has '"source":"docs/b/link.txt"'
rm docs/b/link.txt

# --files0-from, as find -print0 writes it, also from standard input.
find docs -name '*.txt' ! -name '.*' -print0 | sort -z > list0
run rag-chunk --files0-from=list0
check '[ "$(field source | tr "\n" " ")" = "docs/a/one.txt docs/z.txt " ]' \
	"--files0-from: $(field source | tr '\n' ' ')"
run 'find docs/b -type f -print0 | rag-chunk --files0-from=-'
expect_out_has '"source":"docs/b/two.md"'
printf 'docs/z.txt\0\0docs/a/one.txt' > list1
run rag-chunk --files0-from=list1
expect_status 1
expect_err 'rag-chunk: list1:2: invalid zero-length file name'
expect_lines 1

# NDJSON documents: --json, or by extension; metadata passes through;
# --text-field and --id-field for collections that name them otherwise.
cat > docs.jsonl <<'JSON'
{"id":"d1","text":"First document.","year":1999,"tags":["a","b"],"score":0.1}
{"id":7,"text":"Second document.","nested":{"k":[1,2.5,null,true]},"source":"http://example.org/7"}
JSON
run rag-chunk docs.jsonl
expect_status 0
expect_out '{"id":"d1#1","doc":"d1","start":0,"end":15,"line_start":1,"line_end":1,"year":1999,"tags":["a","b"],"score":0.1,"text":"First document.","hash":"b306c1f1ce81a52788254249c52262b6"}
{"id":"7#1","doc":"7","start":0,"end":16,"line_start":1,"line_end":1,"nested":{"k":[1,2.5,null,true]},"source":"http://example.org/7","text":"Second document.","hash":"66bd1cecd63ee536a562250bc8ce21ee"}'
cp "$out" jsonl.out
run 'rag-chunk --json < docs.jsonl'
check 'cmp -s "$out" jsonl.out' "--json on standard input differs from *.jsonl"
cp docs.jsonl docs.txt
run rag-chunk --json docs.txt
check 'cmp -s "$out" jsonl.out' "--json on a .txt name differs"
printf '{"docid":"CACM-1","contents":"Preliminary report on algebraic language.","author":"X"}\n' > cacm.jsonl
run rag-chunk --text-field contents --id-field docid cacm.jsonl
expect_out '{"id":"CACM-1#1","doc":"CACM-1","start":0,"end":41,"line_start":1,"line_end":1,"author":"X","text":"Preliminary report on algebraic language.","hash":"f238521adf8ae7a2edec8271557d62f4"}'
# Markdown inside NDJSON documents with --format.
printf '{"id":"m","text":"# T\\n\\nbody"}\n' > md.jsonl
run rag-chunk --format markdown md.jsonl
expect_out_has '"headings":["T"]'
# An empty text gives no chunks and no error.
printf '{"id":"e","text":""}\n' > empty.jsonl
run rag-chunk empty.jsonl
expect_status 0
expect_lines 0

# Loaders: {} is the file; without {} the file is the last argument.
printf 'shout this\n' > a.up
printf 'and this\n' > b.UP
run rag-chunk --loader 'up=tr a-z A-Z < {}' a.up b.UP
expect_status 0
check '[ "$(field text | tr "\n" "|")" = "SHOUT THIS|AND THIS|" ]' "loader output: $(field text | tr '\n' '|')"
expect_out_has '"source":"a.up"'
run rag-chunk --loader 'up=rev' a.up
check '[ "$(field text)" = "siht tuohs" ]' "loader without {}: $(field text)"
# Names with spaces and quotes reach the command intact.
printf 'odd name\n' > "it's a \"file\".up"
run rag-chunk --loader 'up=cat {}' "it's a \"file\".up"
expect_out_has '"text":"odd name"'
# A loader that fails is an error naming the file, the command, the status.
run rag-chunk --loader 'up=exit 3' a.up
expect_status 1
expect_err 'rag-chunk: a.up: loader "exit 3" exited with status 3'
# In directories, files with a loader are read even when binary.
mkdir bins
printf 'x\0y' > bins/f.bin
run rag-chunk --loader 'bin=tr "\000" " " < {}' bins
expect_out_has '"text":"x y"'

# The configuration file: chunk settings and loaders; options win.
mkdir -p .config/ragkit
cat > .config/ragkit/config <<'CONF'
# ragkit settings
[chunk]
size = 4
overlap = 0
unit = "words"

[loader]
up = tr a-z A-Z < {}
CONF
printf 'one two three four five six seven eight nine ten' > w.txt
run rag-chunk w.txt a.up
check '[ "$(field text | tr "\n" "|")" = "one two three four|five six seven eight|nine ten|SHOUT THIS|" ]' \
	"configuration: $(field text | tr '\n' '|')"
run rag-chunk --size 100 w.txt
expect_lines 1
run "RAGKIT_CONFIG=$scratch/.config/ragkit/config rag-chunk --unit chars --size 10 w.txt"
check '[ "$(field text | head -n 1)" = "one two" ]' "RAGKIT_CONFIG: $(field text | head -n 1)"
printf '[chunk]\nsize = 5\ncolour = blue\n' > .config/ragkit/config
run rag-chunk w.txt
expect_status 2
expect_err "rag-chunk: $scratch/.config/ragkit/config:3: unknown setting \"chunk.colour\""
printf '[chunk]\nsize = abc\n' > .config/ragkit/config
run rag-chunk w.txt
expect_status 2
expect_err "rag-chunk: $scratch/.config/ragkit/config:2: chunk.size needs a whole number, not \"abc\""
printf '[chunk]\nsize = 10\noverlap = 20\n' > .config/ragkit/config
run rag-chunk w.txt
expect_status 2
expect_err "rag-chunk: $scratch/.config/ragkit/config:3: chunk.overlap (20) must be smaller than chunk.size (10)"
run rag-chunk --overlap 2 w.txt
expect_status 0
printf '[chunk]\nunit = bytes\n' > .config/ragkit/config
run rag-chunk w.txt
expect_err "rag-chunk: $scratch/.config/ragkit/config:2: unknown unit \"bytes\" (use chars, words or tokens)"
printf 'just words\n' > .config/ragkit/config
run rag-chunk w.txt
expect_status 2
expect_err "rag-chunk: $scratch/.config/ragkit/config:1: expected key = value"
run "RAGKIT_CONFIG=$scratch/nonexistent rag-chunk w.txt"
expect_status 2
expect_err "rag-chunk: $scratch/nonexistent: cannot read the configuration: No such file or directory"
rm .config/ragkit/config

finish
