/*
 * utf8.h - UTF-8 validation, decoding and repair.
 *
 * Valid means RFC 3629: no overlong forms, no surrogates, nothing above
 * U+10FFFF.  Repair replaces each maximal invalid subpart with U+FFFD, as
 * the Unicode standard recommends, so a repaired text is identical to what
 * most other tools produce for the same bytes.
 */
#ifndef RAG_UTF8_H
#define RAG_UTF8_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct rag_offmap;

/*
 * Returns the length of the valid UTF-8 prefix of s[0..n): n when all of
 * it is valid, otherwise the byte offset of the first invalid sequence.
 */
size_t rag_utf8_valid_prefix(const char *s, size_t n);

/*
 * Decodes the code point at s (n bytes available, n >= 1).  Returns its
 * length in bytes (1-4) and sets *cp, or returns 0 when the bytes there do
 * not start a valid sequence.
 */
size_t rag_utf8_decode(const char *s, size_t n, uint32_t *cp);

/*
 * Length of the maximal invalid subpart at s: the bytes one U+FFFD stands
 * for.  Call it only where rag_utf8_decode returned 0.  Always >= 1.
 */
size_t rag_utf8_invalid_len(const char *s, size_t n);

/* Writes cp (<= 0x10FFFF, not a surrogate) as UTF-8 into out; returns 1-4. */
size_t rag_utf8_encode(uint32_t cp, char *out);

/* Number of code points in valid UTF-8 s[0..n). */
size_t rag_utf8_count(const char *s, size_t n);

/*
 * Appends s[0..n) to out with every invalid sequence replaced by U+FFFD.
 * When map is not NULL it records, for the appended text, where each part
 * came from in s (offsets relative to s plus src_base).  Returns the number
 * of replacements, or -1 when memory runs out.
 */
long rag_utf8_repair(const char *s, size_t n, rag_buf *out,
		     struct rag_offmap *map, size_t src_base);

#endif
