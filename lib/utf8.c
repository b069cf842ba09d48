/* utf8.c - UTF-8 validation, decoding and repair; see utf8.h. */
#include "config.h"

#include <string.h>

#include "offmap.h"
#include "text.h"
#include "utf8.h"

#define HIGH_BITS 0x8080808080808080ULL

size_t rag_utf8_decode(const char *str, size_t n, uint32_t *cp)
{
	const unsigned char *s = (const unsigned char *)str;
	unsigned char c = s[0];

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c < 0xC2)
		return 0; /* continuation byte or overlong 2-byte lead */
	if (c < 0xE0) {
		if (n < 2 || (s[1] & 0xC0) != 0x80)
			return 0;
		*cp = ((uint32_t)(c & 0x1F) << 6) | (s[1] & 0x3F);
		return 2;
	}
	if (c < 0xF0) {
		if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80)
			return 0;
		if (c == 0xE0 && s[1] < 0xA0)
			return 0; /* overlong */
		if (c == 0xED && s[1] > 0x9F)
			return 0; /* surrogate */
		*cp = ((uint32_t)(c & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) |
		      (s[2] & 0x3F);
		return 3;
	}
	if (c < 0xF5) {
		if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 ||
		    (s[3] & 0xC0) != 0x80)
			return 0;
		if (c == 0xF0 && s[1] < 0x90)
			return 0; /* overlong */
		if (c == 0xF4 && s[1] > 0x8F)
			return 0; /* above U+10FFFF */
		*cp = ((uint32_t)(c & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12) |
		      ((uint32_t)(s[2] & 0x3F) << 6) | (s[3] & 0x3F);
		return 4;
	}
	return 0;
}

size_t rag_utf8_invalid_len(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	unsigned char c = s[0], lo = 0x80, hi = 0xBF;
	size_t need, i;

	/* A maximal subpart is the longest prefix of a well-formed sequence. */
	if (c >= 0xC2 && c < 0xE0)
		need = 2;
	else if (c >= 0xE0 && c < 0xF0)
		need = 3;
	else if (c >= 0xF0 && c < 0xF5)
		need = 4;
	else
		return 1;
	if (c == 0xE0)
		lo = 0xA0;
	else if (c == 0xED)
		hi = 0x9F;
	else if (c == 0xF0)
		lo = 0x90;
	else if (c == 0xF4)
		hi = 0x8F;
	for (i = 1; i < need && i < n; i++) {
		if (s[i] < lo || s[i] > hi)
			break;
		lo = 0x80;
		hi = 0xBF;
	}
	return i;
}

size_t rag_utf8_valid_prefix(const char *s, size_t n)
{
	size_t i = 0;
	uint32_t cp;

	while (i < n) {
		/* ASCII runs are the common case: take them 8 bytes at a time. */
		while (i + 8 <= n && !(rag_load64(s + i) & HIGH_BITS))
			i += 8;
		while (i < n && (unsigned char)s[i] < 0x80)
			i++;
		if (i >= n)
			break;
		size_t k = rag_utf8_decode(s + i, n - i, &cp);
		if (!k)
			return i;
		i += k;
	}
	return n;
}

size_t rag_utf8_encode(uint32_t cp, char *out)
{
	unsigned char *o = (unsigned char *)out;

	if (cp < 0x80) {
		o[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (unsigned char)(0xC0 | (cp >> 6));
		o[1] = (unsigned char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (unsigned char)(0xE0 | (cp >> 12));
		o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		o[2] = (unsigned char)(0x80 | (cp & 0x3F));
		return 3;
	}
	o[0] = (unsigned char)(0xF0 | (cp >> 18));
	o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
	o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
	o[3] = (unsigned char)(0x80 | (cp & 0x3F));
	return 4;
}

size_t rag_utf8_count(const char *s, size_t n)
{
	size_t cont = 0, i = 0;

	/*
	 * Every byte that is not a continuation byte (10xxxxxx) starts a code
	 * point.  Eight bytes at a time: a continuation byte has bit 7 set and
	 * bit 6 clear; the multiply adds up the eight 0-or-1 bytes.
	 */
	for (; i + 8 <= n; i += 8) {
		uint64_t v = rag_load64(s + i);
		uint64_t c = (v & ~(v << 1)) & HIGH_BITS;
		cont += (size_t)(((c >> 7) * 0x0101010101010101ULL) >> 56);
	}
	for (; i < n; i++)
		cont += ((unsigned char)s[i] & 0xC0) == 0x80;
	return n - cont;
}

long rag_utf8_repair(const char *s, size_t n, rag_buf *out,
		     struct rag_offmap *map, size_t src_base)
{
	static const char fffd[3] = {(char)0xEF, (char)0xBF, (char)0xBD};
	long repl = 0;
	size_t i = 0;

	if (map && rag_offmap_add(map, out->len, src_base) < 0)
		return -1;
	while (i < n) {
		size_t good = rag_utf8_valid_prefix(s + i, n - i);
		if (rag_buf_add(out, s + i, good) < 0)
			return -1;
		i += good;
		if (i >= n)
			break;
		size_t bad = rag_utf8_invalid_len(s + i, n - i);
		if (map && rag_offmap_add(map, out->len, src_base + i) < 0)
			return -1;
		if (rag_buf_add(out, fffd, sizeof fffd) < 0)
			return -1;
		i += bad;
		repl++;
		if (map && rag_offmap_add(map, out->len, src_base + i) < 0)
			return -1;
	}
	return repl;
}
