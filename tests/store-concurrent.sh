#!/bin/sh
# Readers while a writer works: searches in a loop while rag-index adds,
# updates and deletes in small batches, merges segments on its own and
# compacts never fail and never see part of a commit.  And the writer's
# lock: a second rag-index fails at once under --no-wait, and otherwise
# waits for the first and then does its work.
. "${top_srcdir:-.}/tests/lib.sh"

batch=10
if [ "${RAG_VALGRIND:-0}" = 1 ]; then
	chunks=4 chunk=40 min_reads=3
else
	chunks=16 chunk=150 min_reads=40
fi
total=$((chunks * chunk))
upd=$((chunk / 4 / batch * batch)) # records updated at a time: whole batches

# Records r00000... with a document and a text from a fixed sequence of
# words; "version" says which writing of the record it is.
gen()
{
	awk -v from="$1" -v to="$2" -v version="$3" 'BEGIN {
		nw = split("alpha bravo charlie delta echo foxtrot golf hotel india " \
			   "juliet kilo lima mike november oscar papa", w, " ")
		for (i = from; i < to; i++) {
			x = i * 7919 + version * 104729
			t = ""
			for (j = 0; j < 6 + i % 9; j++) {
				x = (x * 69069 + 1) % 4294967296
				t = t (j ? " " : "") w[1 + int(x / 65536) % nw]
			}
			printf "{\"id\":\"r%05d\",\"doc\":\"d%03d\",\"version\":%d,\"text\":\"%s v%d\"}\n", \
				i, int(i / 10), version, t, version
		}
	}'
}

# ---- readers against a busy writer ----

# The writer, in the background: each chunk of new records in batches of
# $batch, and in between, batches of updates (the count stays), batches of
# deletions (the count drops by whole batches) and compactions.  It writes
# the status of each step to writer.log, and writer.done at the end.
# (Updates touch the first quarter of a chunk, deletions its middle, so no
# deleted record comes back.)
# Enough small batches go in that segments pile up past the merge factor
# (10) again and again and rag-index merges them.
writer()
{
	c=0
	while [ "$c" -lt "$chunks" ]; do
		gen $((c * chunk)) $(((c + 1) * chunk)) 1 > chunk.jsonl
		rag-index -q --batch "$batch" kb chunk.jsonl 2>> writer.err
		echo "add $c $?" >> writer.log
		# the most segments of one size class (live records 1-9, 10-99, ...)
		tail -c +33 kb/MANIFEST |
			jq '[.segments[] | .records - .deleted | tostring | length] | group_by(.) | map(length) | max // 0' \
			>> writer.classes 2>> writer.err
		if [ $((c % 2)) = 1 ]; then
			# batches of updates of the first quarter of the chunk before
			gen $(((c - 1) * chunk)) $(((c - 1) * chunk + upd)) $((c + 1)) > upd.jsonl
			rag-index -q --batch "$batch" kb upd.jsonl 2>> writer.err
			echo "update $c $?" >> writer.log
		fi
		if [ $((c % 3)) = 2 ]; then
			# one batch of deletions from the middle of this chunk
			sed -n "$((chunk / 2 + 1)),$((chunk / 2 + batch))p" chunk.jsonl |
				jq -r .id > del.ids
			rag-index -q --delete --batch "$batch" kb del.ids 2>> writer.err
			echo "delete $c $?" >> writer.log
			cat del.ids >> deleted.ids
		fi
		if [ $((c % 4)) = 3 ]; then
			rag-index -q --compact kb 2>> writer.err
			echo "compact $c $?" >> writer.log
		fi
		c=$((c + 1))
	done
	: > writer.done
}

# A reader loop: reads until the writer is done and it has read at least
# $min_reads times; writes one line per problem to $1.problems and its
# number of reads to $1.reads.
reader()
{
	n=0
	busy=0
	: > "$1.problems"
	while [ ! -f writer.done ] || [ "$n" -lt "$min_reads" ]; do
		n=$((n + 1))
		[ -f writer.done ] || busy=$((busy + 1))
		rag-search --all kb > "$1.all" 2> "$1.err"
		st=$?
		if [ "$st" != 0 ] || [ -s "$1.err" ]; then
			echo "read $n: rag-search --all: status $st: $(head -n 3 "$1.err")" >> "$1.problems"
			continue
		fi
		count=$(wc -l < "$1.all")
		if [ $((count % batch)) != 0 ]; then
			echo "read $n: $count records, part of a batch of $batch" >> "$1.problems"
		fi
		# (awk rather than jq, to read often: every record starts with its id)
		if grep -qv '^{"id":"r[0-9]*",.*}$' "$1.all"; then
			echo "read $n: a record that is not whole: $(grep -v '^{"id":"r[0-9]*",.*}$' "$1.all" | head -n 1)" >> "$1.problems"
		elif ! awk -F'"' '{ print $4 }' "$1.all" > "$1.ids"; then
			echo "read $n: cannot list the ids" >> "$1.problems"
		elif [ -n "$(sort "$1.ids" | uniq -d | head -n 1)" ]; then
			echo "read $n: ids twice (half an update): $(sort "$1.ids" | uniq -d | head -n 3 | tr '\n' ' ')" >> "$1.problems"
		fi
		rag-search -k 5 kb "alpha hotel papa" > "$1.hits" 2> "$1.err"
		st=$?
		if [ "$st" != 0 ] || [ -s "$1.err" ]; then
			echo "read $n: rag-search QUERY: status $st: $(head -n 3 "$1.err")" >> "$1.problems"
		elif [ "$(wc -l < "$1.hits")" -gt 5 ]; then
			echo "read $n: more than 5 hits for -k 5" >> "$1.problems"
		fi
	done
	echo "$n $busy" > "$1.reads"
}

# The store exists before the readers start.
gen 0 "$batch" 0 > first.jsonl
run rag-index -q --batch "$batch" kb first.jsonl
expect_status 0
: > writer.log
: > deleted.ids
writer &
wpid=$!
reader r1 &
r1pid=$!
reader r2 &
r2pid=$!
reader r3 &
r3pid=$!
wait "$wpid"
wait "$r1pid"
wait "$r2pid"
wait "$r3pid"

check '[ -f writer.done ]' "the writer did not finish"
check '! grep -qv " 0$" writer.log' "a writer step failed: $(grep -v ' 0$' writer.log | head -n 3 | tr '\n' ' ')"
check '[ ! -s writer.err ]' "the writer wrote messages: $(head -n 3 writer.err)"
for r in r1 r2 r3; do
	check "[ ! -s $r.problems ]" "reader $r saw: $(head -n 5 $r.problems 2> /dev/null)"
	reads=0 busy=0
	[ -f $r.reads ] && read reads busy < $r.reads
	check '[ "$reads" -ge "$min_reads" ]' "reader $r read $reads times, fewer than $min_reads"
	echo "reader $r: $reads reads, $busy of them while the writer worked"
done

# The end state: every record written, updated ones at their last
# version, deleted ones gone, and few segments left after the merges.
run rag-index --check kb
expect_status 0
ndel=$(wc -l < deleted.ids)
run rag-search --all kb
expect_status 0
expect_lines $((total - ndel))
jq -r .id < "$out" | sort > got.ids
{ gen 0 "$total" 1 | jq -r .id; } | grep -vxF -f deleted.ids | sort > want.ids
check 'cmp -s got.ids want.ids' "the store after the writer does not hold the records written less the deleted"
check "[ \"\$(jq -r 'select(.id == \"r00001\") | .version' \"\$out\")\" = 2 ]" \
	"record r00001 is not at version 2 after its update"
# Merging: after each chunk of small batches, fewer than 10 segments of
# any one size class (without merges there would be $chunk / $batch more
# of the smallest each time).
check '[ "$(wc -l < writer.classes)" -eq "$chunks" ] && [ "$(sort -n writer.classes | tail -n 1)" -lt 10 ]' \
	"segments piled up unmerged: the most of one size class after each chunk: $(tr '\n' ' ' < writer.classes)"
echo "the most segments of one size class after each chunk: $(tr '\n' ' ' < writer.classes)"

# ---- the writer's lock ----

# The first writer holds the lock while it waits for input on a fifo.
gen 10000 10005 1 > held.jsonl
gen 20000 20010 1 > second.jsonl
mkfifo feed
rag-index -q --batch 5 kb2 < feed > /dev/null 2> first.err &
p1=$!
exec 3> feed
cat held.jsonl >&3
tries=0
n=0
while [ "$tries" -lt 1200 ]; do
	n=$(rag-search --all kb2 2> /dev/null | wc -l)
	[ "$n" -ge 5 ] && break
	sleep 0.1
	tries=$((tries + 1))
done
check '[ "$n" -eq 5 ]' "the first writer's first batch did not show ($n records)"

# --no-wait: fails at once, says so, and changes nothing.
run rag-index --no-wait kb2 second.jsonl
expect_status 1
expect_err_has "rag-index: kb2: store is locked by another writer"
expect_err_has "process $p1"
expect_lines 0
check '[ "$(wc -l < "$err")" -eq 1 ]' "the locked-store message is not one line"
run rag-search --all kb2
expect_lines 5

# Without --no-wait the second writer waits: while the first holds the
# lock its records do not appear, and it is still there.
# (Not holding the fifo open itself: 3>&-.)
rag-index -q --batch 5 kb2 second.jsonl > /dev/null 2> second.err 3>&- &
p2=$!
sleep 0.5
check 'kill -0 "$p2" 2> /dev/null' "the second writer did not wait for the lock"
run rag-search --all kb2
expect_lines 5
# The first finishes: it commits the rest of its input and lets go.
gen 10005 10008 1 >&3
exec 3>&-
wait "$p1"
st=$?
check '[ "$st" = 0 ]' "the first writer ended with status $st: $(head -n 3 first.err)"
wait "$p2"
st=$?
check '[ "$st" = 0 ]' "the waiting writer ended with status $st: $(head -n 3 second.err)"
check '[ ! -s second.err ]' "the waiting writer wrote: $(head -n 3 second.err)"
run rag-search --all kb2
expect_status 0
expect_lines 18
check '[ "$(jq -r .id < "$out" | grep -c "^r2")" -eq 10 ]' "the waiting writer's records are not all in the store"
run rag-index --check kb2
expect_status 0

finish
