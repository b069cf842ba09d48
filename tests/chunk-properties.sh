#!/bin/sh
# rag-chunk: the contract on real text, for every strategy and unit:
# offsets reproduce the text exactly, sizes and overlap hold, lines and
# hashes are right, metadata passes through, ids repeat on a second run.
# Uses ../shared/data/texts when it is there, and always the sample that
# ships in tests/data.
. "${top_srcdir:-.}/tests/lib.sh"

command -v python3 > /dev/null || { echo "python3 is needed"; exit 77; }
checker="$top_srcdir/tests/chunkcheck.py"

inputs="$data/texts-sample.jsonl"
for f in "$shared_data"/texts/*.jsonl; do
	[ -f "$f" ] && inputs="$inputs $f"
done
case $inputs in
*shared*) ;;
*) echo "note: $shared_data/texts is not there; checking the sample in tests/data only" ;;
esac

# Documents with metadata of their own.
python3 - "$data/texts-sample.jsonl" > meta.jsonl <<'PY'
import json, sys
for i, line in enumerate(open(sys.argv[1], encoding="utf-8")):
    d = json.loads(line)
    d["year"] = int(d["id"].split("/")[1][:4])
    d["collection"] = d["id"].split("/")[0]
    d["weights"] = [i, i / 3.0, None, True]
    print(json.dumps(d, ensure_ascii=False))
PY
inputs="$inputs $scratch/meta.jsonl"

for input in $inputs; do
	for strategy in recursive sentence fixed; do
		for spec in "chars 1000 100" "chars 157 31" "words 60 12" "tokens 128 0" "tokens 33 7"; do
			set -- $spec
			run rag-chunk --json --strategy $strategy --unit $1 --size $2 --overlap $3 "$input"
			expect_status 0
			cp "$out" first.out
			run python3 "$checker" "$input" first.out $1 $2 $3 --ndjson
			[ "$status" = 0 ] || fail "$(basename "$input") $strategy $spec: $(head -n 5 "$out")"
			run rag-chunk --json --strategy $strategy --unit $1 --size $2 --overlap $3 "$input"
			check 'cmp -s "$out" first.out' "$(basename "$input") $strategy $spec: a second run differs"
		done
	done
done

# Plain files: offsets are into the file itself, lines too.
python3 - "$data/texts-sample.jsonl" <<'PY'
import json, os, sys
os.makedirs("files", exist_ok=True)
with open("files.list", "w") as lst:
    for line in open(sys.argv[1], encoding="utf-8"):
        d = json.loads(line)
        name = "files/" + d["id"].replace("/", "_")
        with open(name, "w", encoding="utf-8") as f:
            f.write(d["text"])
        lst.write("%s\t%s\n" % (name, name))
PY
for spec in "chars 500 50" "words 100 0" "tokens 200 40"; do
	set -- $spec
	run rag-chunk --unit $1 --size $2 --overlap $3 files
	expect_status 0
	cp "$out" files.out
	run python3 "$checker" files.list files.out $1 $2 $3
	[ "$status" = 0 ] || fail "files $spec: $(head -n 5 "$out")"
done

# Markdown: the chunk text is still the file's bytes; no boundary falls
# inside a fenced block.
cat "$top_srcdir/README.md" "$top_srcdir/DEVELOPERS.md" > doc.md 2> /dev/null || cp "$top_srcdir/README.md" doc.md
printf 'doc.md\tdoc.md\n' > md.list
for size in 300 1000; do
	run rag-chunk --size $size --overlap 0 doc.md
	expect_status 0
	cp "$out" md.out
	run python3 - doc.md md.out $size <<'PY'
import json, re, sys
src = open(sys.argv[1], "rb").read()
recs = [json.loads(l) for l in open(sys.argv[2], "rb")]
size = int(sys.argv[3])
fences = [(m.start(), m.end()) for m in re.finditer(rb"(?ms)^ {0,3}```.*?^ {0,3}```[ \t]*$", src)]
bad = 0
for r in recs:
    if src[r["start"]:r["end"]] != r["text"].encode():
        print("text differs", r["id"]); bad = 1
    inside = [f for f in fences if f[0] < r["start"] < f[1] or f[0] < r["end"] < f[1]]
    if inside:
        print("boundary inside a fence", r["id"]); bad = 1
    whole = any(f[0] == r["start"] and f[1] == r["end"] for f in fences)
    if len(r["text"]) > size and not whole:
        print("oversize chunk that is not one fenced block", r["id"]); bad = 1
sys.exit(bad)
PY
	[ "$status" = 0 ] || fail "markdown size $size: $(head -n 5 "$out")"
done

finish
