#!/bin/sh
# Damaged store files: bytes flipped in the header, the section table and
# the sections of a segment (section 19 of indexed fields too, searched
# with --filter), in a deletion file and in MANIFEST; files cut short,
# grown, deleted or replaced by a foreign file.  On every damaged
# copy, rag-index --check fails with one line naming the damaged file, and
# rag-search (a query, and --all) either answers with whole NDJSON records
# or fails with one line naming it: never a crash or a sanitizer report.
. "${top_srcdir:-.}/tests/lib.sh"

small=0
[ "${RAG_VALGRIND:-0}" = 1 ] && small=1

# The store: two segments of 12 records, two records deleted from the first.
awk 'BEGIN {
	for (i = 0; i < 24; i++)
		printf "{\"id\":\"r%02d\",\"doc\":\"d%d\",\"text\":\"record %d about apples, pears and plums, number %d\",\"n\":%d}\n", \
			i, i / 4, i, i * 7, i
}' > input.jsonl
run rag-index -q --batch 12 base input.jsonl
expect_status 0
printf 'r03\nr05\n' > gone.ids
run rag-index -q --delete base gone.ids
expect_status 0
run rag-index --check base
expect_status 0
expect_out "base: ok, 22 records"
seg=$(cd base && ls seg-*.rseg | head -n 1)
del=$(cd base && ls seg-*.del)
check '[ -n "$seg" ] && [ -n "$del" ]' "the store has no segment or no deletion file: $(ls base | tr '\n' ' ')"
# Another store, for foreign files.
run rag-index -q other "$data/texts-sample.jsonl"
expect_status 0
foreign=$(ls other/seg-*.rseg | head -n 1)

size_of()
{
	wc -c < "$1" | tr -d ' '
}

# An unsigned little-endian 32-bit number at byte $2 of file $1.
u32()
{
	od -An -tu4 -j "$2" -N4 "$1" | tr -d ' '
}

# Flips every bit of byte $2 of file $1.
flip()
{
	b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
	printf "$(printf '\\%03o' $((b ^ 255)))" | dd of="$1" bs=1 seek="$2" conv=notrunc 2> /dev/null
}

fresh()
{
	rm -rf t
	cp -r base t
}

mkdir answers
ncase=0

# Checks the damaged copy t, where file $2 was damaged as $1 says.
damaged()
{
	what="$1 ($2)"
	file=$2
	ncase=$((ncase + 1))
	run rag-index --check t
	expect_status 1
	check '[ "$(wc -l < "$err")" -eq 1 ]' "rag-index --check, $what: not one line of message"
	check 'grep -q "^rag-index: " "$err" && grep -qF "$file" "$err"' \
		"rag-index --check, $what: the message does not name $file"
	check '! grep -qiE "sanitizer|runtime error" "$err"' "rag-index --check, $what: a sanitizer report"
	for mode in query all; do
		if [ "$mode" = all ]; then
			run rag-search --all t
		else
			run rag-search -k 30 t "apples number 7"
		fi
		check '! grep -qiE "sanitizer|runtime error" "$err"' "rag-search ($mode), $what: a sanitizer report"
		case $status in
		0)
			expect_err ""
			cp "$out" "answers/$ncase-$mode"
			echo "$what" > "answers/$ncase-$mode.what"
			;;
		1)
			check '[ "$(wc -l < "$err")" -eq 1 ]' "rag-search ($mode), $what: not one line of message"
			check 'grep -q "^rag-search: " "$err" && grep -qF "$file" "$err"' \
				"rag-search ($mode), $what: the message does not name $file"
			;;
		*)
			fail "rag-search ($mode), $what: status $status"
			;;
		esac
	done
}

# ---- flipped bytes ----

segsize=$(size_of "base/$seg")
nsec=$(u32 "base/$seg" 24)
check '[ "$nsec" -ge 13 ] && [ "$nsec" -le 64 ]' "the segment has $nsec sections"
# the header: magic, version, byte order, size, section count, checksum,
# records, total length, terms, reserved; the table: each field of the
# first entry and the offset of the fifth
if [ "$small" = 1 ]; then
	positions="0 29 72"
else
	positions="0 9 13 17 25 29 33 41 49 57 64 68 72 80 88 92 $((64 + 4 * 32 + 8))"
fi
# and the middle of every section (or, under valgrind, of the records and
# the postings)
i=0
while [ "$i" -lt "$nsec" ]; do
	e=$((64 + 32 * i))
	kind=$(u32 "base/$seg" "$e")
	off=$(u32 "base/$seg" $((e + 8)))
	len=$(u32 "base/$seg" $((e + 16)))
	if [ "$len" -gt 0 ] && { [ "$small" = 0 ] || [ "$kind" = 1 ] || [ "$kind" = 11 ]; }; then
		positions="$positions $((off + len / 2))"
	fi
	# the stored records (kind 1), compressed or not, at more places:
	# damage there may still read as a record
	if [ "$kind" = 1 ] && [ "$len" -gt 40 ]; then
		positions="$positions $((off + 16)) $((off + len / 4))"
		[ "$small" = 1 ] || positions="$positions $((off + len * 3 / 4)) $((off + len - 8))"
	fi
	i=$((i + 1))
done
# and the last byte
positions="$positions $((segsize - 1))"
for pos in $positions; do
	fresh
	flip "t/$seg" "$pos"
	damaged "byte $pos flipped" "$seg"
done

delsize=$(size_of "base/$del")
if [ "$small" = 1 ]; then
	positions="16 32"
else
	positions="0 8 12 16 20 24 28 32 $((delsize - 1))"
fi
for pos in $positions; do
	fresh
	flip "t/$del" "$pos"
	damaged "byte $pos flipped" "$del"
done

mansize=$(size_of base/MANIFEST)
if [ "$small" = 1 ]; then
	positions="40"
else
	positions="0 8 12 16 20 24 28 32 $((mansize / 2)) $((mansize - 1))"
fi
for pos in $positions; do
	fresh
	flip t/MANIFEST "$pos"
	damaged "byte $pos flipped" MANIFEST
done

# ---- cut short, grown ----

for f in "$seg" "$del" MANIFEST; do
	size=$(size_of "base/$f")
	if [ "$small" = 1 ]; then
		lengths=$((size / 2))
	else
		lengths="0 10 $((size / 2)) $((size - 1))"
	fi
	for len in $lengths; do
		fresh
		truncate -s "$len" "t/$f"
		damaged "cut to $len bytes" "$f"
	done
	if [ "$small" = 0 ] || [ "$f" = "$seg" ]; then
		fresh
		printf 'some garbage\n' >> "t/$f"
		damaged "garbage appended" "$f"
	fi
done

# ---- missing and foreign files ----

fresh
rm "t/$seg"
damaged "deleted" "$seg"
if [ "$small" = 0 ]; then
	fresh
	rm "t/$del"
	damaged "deleted" "$del"
fi
fresh
cp "$foreign" t/MANIFEST
damaged "replaced by another store's segment" MANIFEST
if [ "$small" = 0 ]; then
	fresh
	cp "$foreign" "t/$seg"
	damaged "replaced by another store's segment" "$seg"
	fresh
	cp base/MANIFEST "t/$seg"
	damaged "replaced by the manifest" "$seg"
fi

# ---- indexed fields (section 19) ----

# The same records with three indexed fields (one that no record has).
run rag-index -q --batch 12 --index-field n --index-field doc --index-field none fbase input.jsonl
expect_status 0
run rag-index -q --delete fbase gone.ids
expect_status 0
run rag-index --check fbase
expect_status 0
expect_out "fbase: ok, 22 records"
fseg=$(cd fbase && ls seg-*.rseg | head -n 1)
fnsec=$(u32 "fbase/$fseg" 24)
fentry=
i=0
while [ "$i" -lt "$fnsec" ]; do
	e=$((64 + 32 * i))
	if [ "$(u32 "fbase/$fseg" "$e")" = 19 ]; then
		fentry=$e
		foff=$(u32 "fbase/$fseg" $((e + 8)))
		flen=$(u32 "fbase/$fseg" $((e + 16)))
	fi
	i=$((i + 1))
done
check '[ -n "$fentry" ] && [ "$flen" -ge 64 ]' "no section 19 of a sane size in $fseg (entry ${fentry:-none}, ${flen:-0} bytes)"
fsize=$(size_of "fbase/$fseg")
check '[ -n "$fentry" ] && [ $((foff + flen)) -le "$fsize" ]' "section 19 lies outside $fseg"
# what the undamaged store answers, to count the damage that goes unseen
ffilter='n >= 5 and doc != "d2" or not (n < 20)'
rag-search -k 30 --filter "$ffilter" fbase "apples number 7" > fwant.jsonl
check '[ -s fwant.jsonl ]' "the filtered search of fbase finds nothing"
funseen=0

# Checks the damaged copy t of fbase, where $fseg was damaged as $1 says:
# as damaged does, and rag-search --filter on the fields (pruned and
# exhaustive) either answers or fails with one line naming the segment
# and no hits written.
fdamaged()
{
	what="$1 ($fseg, indexed fields)"
	ncase=$((ncase + 1))
	run rag-index --check t
	expect_status 1
	check '[ "$(wc -l < "$err")" -eq 1 ]' "rag-index --check, $what: not one line of message"
	check 'grep -q "^rag-index: " "$err" && grep -qF "$fseg" "$err"' \
		"rag-index --check, $what: the message does not name $fseg"
	for mode in query filter filter-exhaustive; do
		case $mode in
		query) run rag-search -k 30 t "apples number 7" ;;
		filter) run rag-search -k 30 --filter "$ffilter" t "apples number 7" ;;
		*) run rag-search --exhaustive -k 30 --filter "$ffilter" t "apples number 7" ;;
		esac
		check '! grep -qiE "sanitizer|runtime error" "$err"' "rag-search ($mode), $what: a sanitizer report"
		case $status in
		0)
			expect_err ""
			cp "$out" "answers/$ncase-$mode"
			echo "$what" > "answers/$ncase-$mode.what"
			[ "$mode" = filter ] && ! cmp -s "$out" fwant.jsonl && funseen=$((funseen + 1))
			;;
		1)
			check '[ "$(wc -l < "$err")" -eq 1 ]' "rag-search ($mode), $what: not one line of message"
			check 'grep -q "^rag-search: " "$err" && grep -qF "$fseg" "$err"' \
				"rag-search ($mode), $what: the message does not name $fseg"
			check '[ ! -s "$out" ]' "rag-search ($mode), $what: hits written before the error"
			;;
		*)
			fail "rag-search ($mode), $what: status $status"
			;;
		esac
	done
}

if [ -n "$fentry" ]; then
	# the entry in the section table (kind, offset, length, checksum);
	# the section's field count, first name length, name, value count,
	# and every few bytes to its last
	if [ "$small" = 1 ]; then
		positions="$((fentry + 8)) $foff $((foff + flen / 2)) $((foff + flen - 1))"
	else
		positions="$fentry $((fentry + 8)) $((fentry + 16)) $((fentry + 24))"
		step=$((flen / 32 + 1))
		pos=$foff
		while [ "$pos" -lt $((foff + flen)) ]; do
			positions="$positions $pos"
			pos=$((pos + step))
		done
		positions="$positions $((foff + 4)) $((foff + 8)) $((foff + 12)) $((foff + 16)) $((foff + flen - 1))"
	fi
	for pos in $positions; do
		rm -rf t
		cp -r fbase t
		flip "t/$fseg" "$pos"
		fdamaged "byte $pos flipped"
	done
	# one bit flipped, in a record number or an offset: damage that may
	# still read as sane (a search may then answer otherwise; --check
	# sees it)
	if [ "$small" = 0 ]; then
		pos=$foff
		while [ "$pos" -lt $((foff + flen)) ]; do
			rm -rf t
			cp -r fbase t
			b=$(od -An -tu1 -j "$pos" -N1 "t/$fseg" | tr -d ' ')
			printf "$(printf '\\%03o' $((b ^ 1)))" | dd of="t/$fseg" bs=1 seek="$pos" conv=notrunc 2> /dev/null
			fdamaged "bit 0 of byte $pos flipped"
			pos=$((pos + step + 2))
		done
	fi
	# section 19 cut short: its length in the table made smaller (the
	# header checksum then made right again would need CRC-32C: instead,
	# the section's end is overwritten with zeros, which its checksum sees)
	rm -rf t
	cp -r fbase t
	dd if=/dev/zero of="t/$fseg" bs=1 seek=$((foff + flen - 16)) count=16 conv=notrunc 2> /dev/null
	if cmp -s "t/$fseg" "fbase/$fseg"; then
		: # the last 16 bytes were zeros already: nothing damaged
	else
		fdamaged "the last 16 bytes of section 19 zeroed"
	fi
	echo "section 19 damaged: rag-search --filter answered otherwise, unseen, $funseen times"
fi

# ---- what the damaged stores answered ----

# Every answer is whole NDJSON: one valid UTF-8 JSON object a line.
python3 - answers > bad-answers <<'EOF'
import json, os, sys
d = sys.argv[1]
for name in sorted(os.listdir(d)):
    if name.endswith(".what"):
        continue
    with open(os.path.join(d, name), "rb") as f:
        data = f.read()
    what = open(os.path.join(d, name + ".what")).read().strip()
    mode = name.split("-", 1)[1]
    for n, line in enumerate(data.split(b"\n")[:-1], 1):
        try:
            if not isinstance(json.loads(line.decode("utf-8")), dict):
                raise ValueError("not an object")
        except Exception as e:
            print("rag-search (%s), %s: line %d is not a JSON object: %s" % (mode, what, n, e))
            break
    if data and not data.endswith(b"\n"):
        print("rag-search (%s), %s: the last line is cut short" % (mode, what))
EOF
py_status=$?
check '[ "$py_status" = 0 ]' "the answers could not be checked"
: > "$err" # (fail shows the last command's messages: none of these)
while IFS= read -r line; do
	fail "$line"
done < bad-answers
echo "$ncase damaged copies; $(ls answers | grep -vc '\.what$') answers"

# Section 19 that holds together but lists records under values they do
# not hold (checksums made right): --check compares it with the records.
printf '%s\n' '{"id":"a","text":"one","year":1}' '{"id":"b","text":"two","year":2}' > swap.jsonl
run rag-index -q --index-field year swapped swap.jsonl
expect_status 0
python3 - swapped/seg-00000001.rseg <<'EOF2' || fail "cannot rewrite section 19"
import struct, sys
def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF
path = sys.argv[1]
f = bytearray(open(path, "rb").read())
nsec = struct.unpack_from("<I", f, 24)[0]
for i in range(nsec):
    e = 64 + 32 * i
    if struct.unpack_from("<I", f, e)[0] == 19:
        off, length = struct.unpack_from("<QQ", f, e + 8)
        break
else:
    sys.exit("no section 19")
# one field "year" (4 bytes of name), 2 values, 2 records: the docnos follow
# the count, the name, the two counts and the two offset tables
p = off + 4 + 4 + 4 + 8 + 4 * 3 * 2
d0, d1 = struct.unpack_from("<II", f, p)
assert (d0, d1) == (0, 1), (d0, d1)
struct.pack_into("<II", f, p, 1, 0)
struct.pack_into("<I", f, e + 24, crc32c(bytes(f[off:off + length])))
h = bytes(f[:28]) + b"\0\0\0\0" + bytes(f[32:64 + 32 * nsec])
struct.pack_into("<I", f, 28, crc32c(h))
open(path, "wb").write(f)
EOF2
run rag-index --check swapped
expect_status 1
expect_err_has "swapped/seg-00000001.rseg: damaged segment: record 0's value of indexed field \"year\" is not the one the index lists"

finish
