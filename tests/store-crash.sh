#!/bin/sh
# rag-index killed with SIGKILL at random moments of a long ingest, many
# times over: after each kill the store opens, passes --check, and holds
# exactly the batches committed before the kill (a prefix of the input
# made of whole batches); a re-run finishes the ingest and counts what was
# already there as unchanged.
. "${top_srcdir:-.}/tests/lib.sh"

if [ "${RAG_VALGRIND:-0}" = 1 ]; then
	total=3000 batch=100 rounds=4
else
	total=20000 batch=500 rounds=15
fi

# The input: records of 8 to 20 words from a fixed pseudo-random sequence,
# the same on every run.
awk -v n="$total" 'BEGIN {
	nw = split("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo " \
		   "lima mike november oscar papa quebec romeo sierra tango uniform " \
		   "victor whiskey xray yankee zulu store segment manifest commit crash " \
		   "batch record search index lexical", w, " ")
	x = 12345
	for (i = 0; i < n; i++) {
		t = ""
		for (j = 0; j < 8 + i % 13; j++) {
			x = (x * 69069 + 1) % 4294967296
			t = t (j ? " " : "") w[1 + int(x / 65536) % nw]
		}
		printf "{\"id\":\"r%05d\",\"doc\":\"d%04d\",\"n\":%d,\"text\":\"%s\"}\n", \
			i, int(i / 7), i, t
	}
}' > input.jsonl
awk -F'"' '{ print $4 }' input.jsonl > ids
check '[ "$(wc -l < ids)" -eq "$total" ] && [ "$(sort -u ids | wc -l)" -eq "$total" ]' \
	"the generated input does not have $total distinct ids"

now_ms()
{
	echo $(($(date +%s%N) / 1000000))
}

# A random number in [0, $1].
random_upto()
{
	r=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')
	echo $((r % ($1 + 1)))
}

# The generation of store $1: it grows by one with each commit (and merge).
generation()
{
	od -An -tu4 -j 24 -N4 "$1/MANIFEST" | tr -d ' '
}

# A valgrind killed with SIGKILL leaves its vgdb fifos behind: removes those of pid $1.
vgdb_litter()
{
	[ "${RAG_VALGRIND:-0}" = 1 ] && rm -f "${TMPDIR:-/tmp}"/vgdb-pipe-*-"$1"-by-*
	return 0
}

# Checks that store $1 opens, passes --check and holds a prefix of the
# input made of whole batches; sets $live to its number of records.
verify_prefix()
{
	live=-1
	run rag-index --check "$1"
	expect_status 0
	expect_out_has "ok, "
	run rag-search -k 3 "$1" "crash commit manifest"
	expect_status 0
	expect_err ""
	check '[ "$(wc -l < "$out")" -le 3 ]' "$2: more than 3 hits for -k 3"
	run rag-search --all "$1"
	expect_status 0
	expect_err ""
	live=$(wc -l < "$out")
	check '[ $((live % batch)) -eq 0 ] || [ "$live" -eq "$total" ]' \
		"$2: $live records in the store, not a whole number of batches of $batch"
	jq -r .id < "$out" | sort > got.ids
	head -n "$live" ids | sort > want.ids
	check 'cmp -s got.ids want.ids' \
		"$2: the store's $live records are not the first $live of the input"
}

# Checks that the files of store $1 are LOCK, MANIFEST and what MANIFEST names.
verify_no_strays()
{
	{
		echo LOCK
		echo MANIFEST
		tail -c +33 "$1/MANIFEST" | jq -r '.segments[] | .file, (.deletions // empty)'
	} | sort > named
	ls "$1" | sort > present
	check 'cmp -s named present' "$2: the store holds files its manifest does not name: $(comm -13 named present | tr '\n' ' ')"
}

# An uninterrupted ingest, to compare with.
run rag-index -q --batch "$batch" calib input.jsonl
expect_status 0
expect_err ""
verify_prefix calib "uninterrupted ingest"
check '[ "$live" -eq "$total" ]' "an uninterrupted ingest stored $live records, not $total"
rm -rf calib

# The kills.  Each round goes on with the store the last one left (so each
# writer also cleans up after a killed one) until the whole input is in;
# then the next round starts a new store.
round=1
live=0
while [ "$round" -le "$rounds" ]; do
	if [ ! -d kb ] || [ "$live" -eq "$total" ]; then
		rm -rf kb
		# the store exists before the kill, so there is always one to open
		run rag-index -q kb /dev/null
		expect_status 0
		live=0
	fi
	# The moment: after a random number of the commits still to come,
	# and a random part of the time one commit takes.  (Speed does not
	# matter: a round whose writer ends before its kill checks the same.)
	gen0=$(generation kb)
	wait_for=$(random_upto $(((total - live) / batch)))
	rag-index -q --batch "$batch" kb < input.jsonl > /dev/null 2> writer.err &
	pid=$!
	t0=$(now_ms)
	while kill -0 "$pid" 2> /dev/null && [ "$(generation kb)" -lt $((gen0 + wait_for)) ]; do
		sleep 0.01
	done
	t1=$(now_ms)
	[ "$wait_for" -gt 0 ] && per=$(((t1 - t0) / wait_for)) || per=$((t1 - t0 + 20))
	ms=$(random_upto "$per")
	delay=$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))
	sleep "$delay"
	kill -KILL "$pid" 2> /dev/null
	{ wait "$pid"; } 2> /dev/null # no "Killed" from the shell
	st=$?
	vgdb_litter "$pid"
	check '[ "$st" = 137 ] || { [ "$st" = 0 ] && [ ! -s writer.err ]; }' \
		"round $round: the writer ended with status $st: $(head -n 3 writer.err)"
	verify_prefix kb "round $round (killed ${delay}s after $wait_for new generations)"
	echo "round $round: killed ${delay}s after $wait_for new generations (status $st): $live records"
	round=$((round + 1))
done

# A re-run completes the ingest; what the killed writers committed is unchanged.
before=$live
run rag-index --stats --batch "$batch" kb input.jsonl
expect_status 0
check "jq -e '.added == $total - $before and .unchanged == $before and .updated == 0 and .deleted == 0 and .records == $total' \"\$out\" > /dev/null" \
	"the re-run after the kills does not count the $before committed records as unchanged: $(cat "$out")"
verify_prefix kb "after the re-run"
check '[ "$live" -eq "$total" ]' "after the re-run the store has $live records, not $total"
verify_no_strays kb "after the re-run"

# One kill at a known point: the writer has committed 3 batches and read
# part of a fourth when it is killed, waiting for more input.  The store
# holds exactly the 3 batches.
mkfifo feed
rag-index -q --batch "$batch" kb2 < feed > /dev/null 2> writer.err &
pid=$!
exec 3> feed
head -n $((3 * batch + batch / 2)) input.jsonl >&3
tries=0
n=0
while [ "$tries" -lt 1200 ]; do
	if [ -f kb2/MANIFEST ]; then
		n=$(rag-search --all kb2 2> /dev/null | wc -l)
		[ "$n" -ge $((3 * batch)) ] && break
	fi
	sleep 0.1
	tries=$((tries + 1))
done
check '[ "$n" -eq $((3 * batch)) ]' "the writer fed 3.5 batches shows $n records, not $((3 * batch))"
kill -KILL "$pid"
{ wait "$pid"; } 2> /dev/null
st=$?
vgdb_litter "$pid"
exec 3>&-
check '[ "$st" = 137 ]' "the writer waiting for input ended with status $st, not killed"
verify_prefix kb2 "killed waiting for input"
check '[ "$live" -eq $((3 * batch)) ]' \
	"killed waiting for input: $live records, not the $((3 * batch)) committed"
run rag-index --stats --batch "$batch" kb2 input.jsonl
expect_status 0
check "jq -e '.added == $total - 3 * $batch and .unchanged == 3 * $batch and .updated == 0 and .records == $total' \"\$out\" > /dev/null" \
	"the re-run after a kill at 3 batches reports $(cat "$out")"
verify_no_strays kb2 "after the re-run of the known kill"

finish
