/* Tests for lib/utf8.c and lib/offmap.c. */
#include "config.h"

#include <stdlib.h>

#include "offmap.h"
#include "test.h"
#include "utf8.h"

static void valid_prefix(void)
{
	CHECK_EQ(rag_utf8_valid_prefix("", 0), 0);
	CHECK_EQ(rag_utf8_valid_prefix("plain ascii text, long enough for words", 39), 39);
	CHECK_EQ(rag_utf8_valid_prefix("caf\xc3\xa9", 5), 5);
	CHECK_EQ(rag_utf8_valid_prefix("\xe2\x82\xac \xf0\x9f\x98\x80", 8), 8);
	/* A lone continuation byte, an overlong form, a surrogate, past U+10FFFF. */
	CHECK_EQ(rag_utf8_valid_prefix("abc\x80", 4), 3);
	CHECK_EQ(rag_utf8_valid_prefix("abcdefghij\xc0\xaf", 12), 10);
	CHECK_EQ(rag_utf8_valid_prefix("\xe0\x80\xaf", 3), 0);
	CHECK_EQ(rag_utf8_valid_prefix("x\xed\xa0\x80", 4), 1);
	CHECK_EQ(rag_utf8_valid_prefix("\xf4\x90\x80\x80", 4), 0);
	CHECK_EQ(rag_utf8_valid_prefix("\xf5\x80\x80\x80", 4), 0);
	/* A sequence cut short by the end of the text. */
	CHECK_EQ(rag_utf8_valid_prefix("ab\xe2\x82", 4), 2);
	/* Invalid after a long ASCII run (the 8-byte fast path). */
	CHECK_EQ(rag_utf8_valid_prefix("0123456789abcdef\xff", 17), 16);
}

static void decode_encode(void)
{
	uint32_t cps[] = {0, 0x41, 0x7F, 0x80, 0x7FF, 0x800, 0xFFFD, 0xFFFF, 0x10000, 0x10FFFF};
	char buf[4];
	uint32_t cp;
	size_t i, n;

	for (i = 0; i < sizeof cps / sizeof cps[0]; i++) {
		n = rag_utf8_encode(cps[i], buf);
		CHECK(n >= 1 && n <= 4);
		CHECK_EQ(rag_utf8_decode(buf, n, &cp), n);
		CHECK_EQ(cp, cps[i]);
		CHECK_EQ(rag_utf8_valid_prefix(buf, n), n);
	}
	CHECK_EQ(rag_utf8_decode("\xc3", 1, &cp), 0);
	CHECK_EQ(rag_utf8_count("caf\xc3\xa9 \xf0\x9f\x98\x80", 10), 6);
	/* The eight-at-a-time count against one byte at a time, at every length. */
	{
		static const char *const parts[] = {"a", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80"};
		char text[256];
		unsigned seed = 3;
		size_t len, want, j;
		for (int k = 0; k < 200; k++) {
			len = 0;
			want = 0;
			while (len < 200) {
				const char *p = parts[rand_r(&seed) % 4];
				memcpy(text + len, p, strlen(p));
				len += strlen(p);
				want++;
			}
			for (j = 0; j + 4 <= len; j += 1 + (size_t)(rand_r(&seed) % 7)) {
				size_t naive = 0, q;
				for (q = j; q < len; q++)
					naive += ((unsigned char)text[q] & 0xC0) != 0x80;
				CHECK_EQ(rag_utf8_count(text + j, len - j), naive);
			}
			CHECK_EQ(rag_utf8_count(text, len), want);
		}
	}
}

static void invalid_len(void)
{
	/* Maximal subparts, as the Unicode standard counts them. */
	CHECK_EQ(rag_utf8_invalid_len("\x80", 1), 1);
	CHECK_EQ(rag_utf8_invalid_len("\xe2\x82x", 3), 2);
	CHECK_EQ(rag_utf8_invalid_len("\xf0\x9f\x98x", 4), 3);
	CHECK_EQ(rag_utf8_invalid_len("\xe0\x80\x80", 3), 1);
	CHECK_EQ(rag_utf8_invalid_len("\xed\xa0\x80", 3), 1);
	CHECK_EQ(rag_utf8_invalid_len("\xc0\xaf", 2), 1);
}

static void repair(void)
{
	rag_buf out;
	rag_offmap map;
	long n;

	rag_buf_init(&out, 0);
	rag_offmap_init(&map);
	n = rag_utf8_repair("a\xffz\xe2\x82!", 6, &out, &map, 0);
	map.src_end = 6;
	CHECK_EQ(n, 2);
	CHECK_MEM(out.data, out.len, "a\xef\xbf\xbdz\xef\xbf\xbd!");
	CHECK_EQ(rag_utf8_valid_prefix(out.data, out.len), out.len);
	/* Offsets map back: 'z' at 4 in the text is at 2 in the source. */
	CHECK_EQ(rag_offmap_lookup(&map, 0), 0);
	CHECK_EQ(rag_offmap_lookup(&map, 1), 1);
	CHECK_EQ(rag_offmap_lookup(&map, 4), 2);
	CHECK_EQ(rag_offmap_lookup(&map, 5), 3);
	CHECK_EQ(rag_offmap_lookup(&map, 8), 5);
	CHECK_EQ(rag_offmap_lookup(&map, 9), 6);
	rag_buf_free(&out);
	rag_offmap_free(&map);
}

static void offmap_basics(void)
{
	rag_offmap m;

	rag_offmap_init(&m);
	CHECK_EQ(rag_offmap_lookup(&m, 17), 17);
	/* "&amp;x" in the source became "&x" in the text. */
	rag_offmap_add(&m, 0, 10);
	rag_offmap_add(&m, 1, 15);
	m.src_end = 16;
	CHECK_EQ(rag_offmap_lookup(&m, 0), 10);
	CHECK_EQ(rag_offmap_lookup(&m, 1), 15);
	CHECK_EQ(rag_offmap_lookup(&m, 2), 16);
	CHECK_EQ(rag_offmap_lookup(&m, 5), 16);
	/* A run at the same text offset replaces the last one. */
	rag_offmap_add(&m, 1, 14);
	CHECK_EQ(m.n, 2);
	CHECK_EQ(rag_offmap_lookup(&m, 1), 14);
	rag_offmap_free(&m);
}

int main(void)
{
	RUN(valid_prefix);
	RUN(decode_encode);
	RUN(invalid_len);
	RUN(repair);
	RUN(offmap_basics);
	return test_summary();
}
