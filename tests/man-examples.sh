#!/bin/sh
# Every example in the man pages runs, and prints what the page shows.
. "${top_srcdir:-.}/tests/lib.sh"

command -v python3 > /dev/null || { echo "python3 is needed"; exit 77; }
command -v jq > /dev/null || { echo "jq is needed (apt-get install jq)"; exit 77; }

for page in "$top_srcdir"/man/*.[1-8]; do
	run python3 "$top_srcdir/tests/manex.py" "$page" "$data/man"
	cat "$out"
	[ "$status" = 0 ] || fail "examples of $(basename "$page") failed"
done

finish
