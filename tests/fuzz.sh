#!/bin/sh
# Builds each libFuzzer target in tests/fuzz/ with clang and runs it for a
# few seconds (FUZZ_SECONDS, default 5) from its seed corpus.  Skipped
# (status 77) without clang or libFuzzer, and under valgrind.
. "${top_srcdir:-.}/tests/lib.sh"

[ "${RAG_VALGRIND:-0}" = 1 ] && { echo "fuzzing is not done under valgrind"; exit 77; }
cc=$(command -v clang || command -v clang-14 || true)
[ -n "$cc" ] || { echo "clang not found: fuzz targets not run"; exit 77; }
echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }' > probe.c
"$cc" -fsanitize=fuzzer probe.c -o probe 2> /dev/null ||
	{ echo "clang has no libFuzzer (apt-get install libclang-rt-14-dev)"; exit 77; }

lib="$top_srcdir/lib"
srcs="$lib/error.c $lib/buf.c $lib/utf8.c $lib/offmap.c $lib/json.c $lib/ndjson.c
	$lib/split.c $lib/doc.c $lib/markdown.c $lib/html.c $lib/filter.c $lib/hnsw.c $lib/vec.c
	$lib/cpu.c $lib/hash.c $lib/record.c $lib/hit.c $lib/prompt.c $lib/chat.c"
flags="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
	-I$lib -I$top_builddir $(pkg-config --cflags jansson libpcre2-8 liblz4)"
libs="$(pkg-config --libs jansson libpcre2-8 liblz4)"
seconds=${FUZZ_SECONDS:-5}

for target in json html chunk ndjson segment filter template chat; do
	run "$cc" $flags -o fuzz_$target "$top_srcdir/tests/fuzz/fuzz_$target.c" $srcs $libs
	[ "$status" = 0 ] || { fail "fuzz_$target did not build"; continue; }
	mkdir -p corpus_$target
	cp "$top_srcdir/tests/fuzz/corpus/$target/"* corpus_$target/ 2> /dev/null
	run ./fuzz_$target -max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=1024 \
		corpus_$target
	if [ "$status" != 0 ]; then
		fail "fuzz_$target found a problem"
		grep -A 30 -E 'ERROR|SUMMARY|deadly' "$err" | head -n 40 >&2
	else
		echo "fuzz_$target: $(grep -o 'Done [0-9]* runs' "$err" | tail -n 1)"
	fi
done

finish
