#!/bin/sh
# rag-chunk: records, formats, options, the rag front command.
. "${top_srcdir:-.}/tests/lib.sh"

printf 'Hello world.\n\nThis is a second paragraph. It has two sentences.\n' > t.txt

# Plain text: exact records, offsets into the file, lines, hashes.
run rag-chunk --size 30 --overlap 5 t.txt
expect_status 0
expect_out '{"id":"t.txt#1","doc":"t.txt","source":"t.txt","start":0,"end":12,"line_start":1,"line_end":1,"text":"Hello world.","hash":"87ba9ad6cfb4c583faa8d886ee78ed68"}
{"id":"t.txt#2","doc":"t.txt","source":"t.txt","start":14,"end":41,"line_start":3,"line_end":3,"text":"This is a second paragraph.","hash":"dd70532b458b18cca5559af845c7bba6"}
{"id":"t.txt#3","doc":"t.txt","source":"t.txt","start":42,"end":63,"line_start":3,"line_end":3,"text":"It has two sentences.","hash":"90471ab7d860ed8eb2a2e7b99df687d9"}'
expect_err ''
cp "$out" first.out

# The same input gives the same ids and hashes on a second run.
run rag-chunk --size 30 --overlap 5 t.txt
check 'cmp -s "$out" first.out' "a second run differs from the first"

# The whole file fits one chunk with the defaults.
run rag-chunk t.txt
expect_lines 1
expect_out_has '"text":"Hello world.\n\nThis is a second paragraph. It has two sentences."'

# Standard input: no argument, or "-", with --doc-id.
run 'rag-chunk < t.txt'
expect_out_has '{"id":"-#1","doc":"-","start":0,"end":63,'
run 'rag-chunk --doc-id=notes - < t.txt'
expect_out_has '{"id":"notes#1","doc":"notes","start":0,'
check '! grep -q "\"source\"" "$out"' "standard input has no source path"

# Markdown: heading paths, fenced code kept whole even past --size.
printf '# Guide\n\nIntro text.\n\n## Install\n\nRun this:\n\n```sh\n./configure\n\nmake\n```\n\n## Use\n\nPipe it.\n' > g.md
run rag-chunk --size 25 --overlap 0 g.md
expect_status 0
expect_out '{"id":"g.md#1","doc":"g.md","source":"g.md","start":0,"end":20,"line_start":1,"line_end":3,"headings":["Guide"],"text":"# Guide\n\nIntro text.","hash":"eb2cd06131fe7383f674e8acaa662b7e"}
{"id":"g.md#2","doc":"g.md","source":"g.md","start":22,"end":43,"line_start":5,"line_end":7,"headings":["Guide","Install"],"text":"## Install\n\nRun this:","hash":"1c2ac75045a9708045922dbd48a0a583"}
{"id":"g.md#3","doc":"g.md","source":"g.md","start":45,"end":72,"line_start":9,"line_end":13,"headings":["Guide","Install"],"text":"```sh\n./configure\n\nmake\n```","hash":"2ce4290e4666706f1baf91641ed2ecb6"}
{"id":"g.md#4","doc":"g.md","source":"g.md","start":74,"end":90,"line_start":15,"line_end":17,"headings":["Guide","Use"],"text":"## Use\n\nPipe it.","hash":"8b31b4b3e196d90ec2606ddfab861dcd"}'
# --format overrides the extension.
run rag-chunk --format text --size 25 --overlap 0 g.md
check '! grep -q headings "$out"' "--format text still found headings"

# HTML: tags, script and style gone, entities decoded, title kept,
# offsets into the HTML file.
printf '<html><head><title>T &amp; U</title><style>p{}</style></head><body><h1>Top</h1><p>One &lt;two&gt;<script>x()</script></p><p>Three&nbsp;four</p></body></html>' > p.html
run rag-chunk p.html
expect_out '{"id":"p.html#1","doc":"p.html","source":"p.html","start":71,"end":139,"line_start":1,"line_end":1,"headings":["Top"],"title":"T & U","text":"Top\n\nOne <two>\n\nThree four","hash":"7f3d7ac43394d0ca766e1c692126167c"}'
check '[ "$(cut -c72-75 p.html)" = "Top<" ] && [ "$(cut -c136-139 p.html)" = "four" ]' \
	"HTML offsets do not point at the chunk's first and last characters"

# Units and strategies reach the splitter.
printf 'one two three four five six seven eight nine ten' > w.txt
run rag-chunk --unit words --size 4 --overlap 1 w.txt
expect_status 0
check '[ "$(field text | tr "\n" "|")" = "one two three four|four five six seven|seven eight nine ten|" ]' \
	"--unit words --size 4 --overlap 1: $(field text | tr '\n' '|')"
run rag-chunk --strategy fixed --size 10 --overlap 0 w.txt
check '[ "$(field text | tr "\n" "|")" = "one two th|ree four f|ive six se|ven eight|nine ten|" ]' \
	"--strategy fixed: $(field text | tr '\n' '|')"
printf 'Mr. Smith arrived. He sat down. Then he left.' > s.txt
run rag-chunk --strategy sentence --size 35 --overlap 0 s.txt
check '[ "$(field text | tr "\n" "|")" = "Mr. Smith arrived. He sat down.|Then he left.|" ]' \
	"--strategy sentence: $(field text | tr '\n' '|')"
run rag-chunk -u tokens -s 4 --overlap 0 w.txt
check '[ "$(field text | head -n 1)" = "one two three" ]' "--unit tokens"

# --help and --version go to standard output and succeed.
run rag-chunk --help
expect_status 0
expect_out_has 'Usage: rag-chunk [OPTION]... [FILE|DIR]...'
expect_err ''
run rag-chunk --version
expect_status 0
expect_out "rag-chunk (ragkit) $(sed -n 's/^AC_INIT(\[ragkit\], \[\([^]]*\)\].*/\1/p' "$top_srcdir/configure.ac")"

# Usage errors: status 2, the problem, and where to look.
run rag-chunk --size 0 t.txt
expect_status 2
expect_err "rag-chunk: --size must be at least 1, not 0
Try 'rag-chunk --help' for more information."
run rag-chunk --size ten t.txt
expect_status 2
expect_err_has 'rag-chunk: --size needs a whole number, not "ten"'
run rag-chunk --size 10 --overlap 10 t.txt
expect_status 2
expect_err_has 'rag-chunk: --overlap (10) must be smaller than --size (10)'
run rag-chunk --unit bytes t.txt
expect_status 2
expect_err_has 'rag-chunk: unknown unit "bytes" (use chars, words or tokens)'
run rag-chunk --strategy magic t.txt
expect_status 2
expect_err_has 'rag-chunk: unknown strategy "magic"'
run rag-chunk --format pdf t.txt
expect_status 2
expect_err_has 'rag-chunk: unknown format "pdf"'
run rag-chunk --no-such-option
expect_status 2
expect_err "rag-chunk: unknown option \"--no-such-option\"
Try 'rag-chunk --help' for more information."
run rag-chunk -Z
expect_err_has 'rag-chunk: unknown option "-Z"'
run rag-chunk --size
expect_status 2
expect_err_has 'rag-chunk: option "--size" needs a value'
run rag-chunk t.txt -s
expect_err_has 'rag-chunk: option "-s" needs a value'
run rag-chunk --files0-from=list t.txt
expect_status 2
expect_err_has 'rag-chunk: file operands cannot be combined with --files0-from'
run rag-chunk --loader pdf t.txt
expect_status 2
expect_err_has 'rag-chunk: expected EXT=COMMAND in loader "pdf"'
# The default overlap is 100, or a tenth of --size when that is smaller.
printf 'aa bb cc dd ee ff gg hh ii jj kk ll mm nn oo pp qq rr ss tt uu vv ww xx yy zz\n' > ab.txt
run rag-chunk --size 30 ab.txt
check '[ "$(field text | tr "\n" "|")" = "aa bb cc dd ee ff gg hh ii jj|jj kk ll mm nn oo pp qq rr ss|ss tt uu vv ww xx yy zz|" ]' \
	"default overlap for --size 30: $(field text | tr '\n' '|')"

# The front command runs the programs, lists them, and refuses others.
run rag chunk --size 30 --overlap 5 t.txt
expect_status 0
check 'cmp -s "$out" first.out' "rag chunk differs from rag-chunk"
run rag help
expect_status 0
expect_out_has '   chunk      split documents into chunk records'
run rag --help
expect_status 0
expect_out_has 'Usage: rag [--help | --version] NAME [ARG]...'
run rag --version
expect_out_has 'rag (ragkit) '
run rag nosuch
expect_status 2
expect_err "rag: \"nosuch\" is not a rag command; 'rag help' lists them"
run rag
expect_status 2
expect_err_has 'Usage: rag'
run rag ../rag-chunk
expect_status 2
# They get the default SIGPIPE, as from a shell.
mkdir sig
printf '#!/bin/sh\ngrep SigIgn /proc/self/status\n' > sig/rag-sig
chmod +x sig/rag-sig
run "PATH=\"$scratch/sig:\$PATH\" rag sig"
check 'grep -q "SigIgn:[[:space:]]*0*$" "$out" || ! grep -q "SigIgn:.*1...$" "$out"' "rag passes an ignored SIGPIPE on"
# HTML: an inserted cell separator is never a chunk of its own.
printf '<table><tr><td>abcdefgh<td>ijklmnop</table>' > cells.html
run rag-chunk --size 8 --overlap 0 cells.html
check '[ "$(field text | tr "\n" "|")" = "abcdefgh|ijklmno|p|" ]' "table cells: $(field text | tr '\n' '|')"
# Other rag- programs on PATH are listed, and run.
mkdir extra
printf '#!/bin/sh\necho "hello from rag-hello: $*"\n' > extra/rag-hello
chmod +x extra/rag-hello
run "PATH=\"$scratch/extra:\$PATH\" rag hello a b"
expect_out 'hello from rag-hello: a b'
run "PATH=\"$scratch/extra:\$PATH\" rag help"
expect_out_has 'Other rag- programs on PATH:'
expect_out_has '   hello'

finish
