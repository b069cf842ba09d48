/* analyze.c - turning text into index terms; see analyze.h. */
#include "config.h"

#include <libstemmer.h>
#include <locale.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <wctype.h>

#include "analyze.h"
#include "text.h"
#include "utf8.h"

/*
 * Words follow Unicode word segmentation (UAX #29) in a simple form: a
 * word is a run of letters, digits and combining marks; an apostrophe
 * (' or U+2019) or a period between two letters joins them ("don't",
 * "u.s.a"), and a period or comma between two digits joins them ("3.14",
 * "1,000").  The underscore is not a word character.  Each CJK ideograph
 * is a word of its own, and a run of hiragana and katakana is a word of
 * its own, apart from the letters beside it.  U+2019 inside a word is
 * written as "'", so that curly and straight apostrophes give the same
 * term.  Invisible format characters inside a word (the soft hyphen, the
 * zero-width joiners, the word joiner, the byte order mark) are dropped.
 * Text is not normalised: a precomposed and a decomposed e-acute give
 * different terms.
 *
 * ASCII goes through a table, without a call per byte.  Other characters
 * are decoded and classified with glibc's C.UTF-8 locale; without it
 * (newlocale failed) every other character is a letter, left as it is.
 */

enum kind { K_ENGLISH, K_LUCENE, K_SIMPLE, K_NONE };

static const char *const names[] = {"english", "lucene", "simple", "none", NULL};

/* The libstemmer algorithm of each kind; NULL where there is no stemming. */
static const char *const algorithms[] = {"english", "porter", NULL, NULL};

/*
 * The english analyzer's stop words: the pronouns, determiners,
 * auxiliaries, conjunctions and prepositions of general English (the
 * common function-word list of information retrieval and NLP toolkits),
 * without the fragments of contractions.  They carry next to nothing
 * about what a text is about, and dropping them shortens records and
 * queries alike.  Sorted, lower case.
 */
static const char *const english_stop[] = {
	"a", "about", "above", "after", "again", "against", "all", "am", "an", "and", "any",
	"are", "as", "at", "be", "because", "been", "before", "being", "below", "between",
	"both", "but", "by", "can", "did", "do", "does", "doing", "down", "during", "each",
	"few", "for", "from", "further", "had", "has", "have", "having", "he", "her", "here",
	"hers", "herself", "him", "himself", "his", "how", "i", "if", "in", "into", "is",
	"it", "its", "itself", "just", "me", "more", "most", "my", "myself", "no", "nor",
	"not", "now", "of", "off", "on", "once", "only", "or", "other", "our", "ours",
	"ourselves", "out", "over", "own", "same", "she", "should", "so", "some", "such",
	"than", "that", "the", "their", "theirs", "them", "themselves", "then", "there",
	"these", "they", "this", "those", "through", "to", "too", "under", "until", "up",
	"very", "was", "we", "were", "what", "when", "where", "which", "while", "who",
	"whom", "why", "will", "with", "you", "your", "yours", "yourself", "yourselves",
};

#define STOP_SLOTS 512 /* a power of two, over twice the number of words */
#define STOP_WORD_MAX 16

/* A word of at most STOP_WORD_MAX bytes packed into two integers, with its length. */
static inline void stop_key(const char *t, size_t n, uint64_t *lo, uint64_t *hi)
{
	unsigned char b[STOP_WORD_MAX] = {0};

	memcpy(b, t, n);
	memcpy(lo, b, 8);
	memcpy(hi, b + 8, 8);
	*hi ^= (uint64_t)n << 56;
}

static inline size_t stop_slot(uint64_t lo, uint64_t hi)
{
	return (size_t)(((lo * 0x9E3779B97F4A7C15ULL) ^ (hi * 0xC2B2AE3D27D4EB4FULL)) >> 55) &
	       (STOP_SLOTS - 1);
}

/*
 * For indexing, an analyzer numbers the terms it makes (rag_analyze_ids):
 * its vocabulary holds each term once, and a word memo remembers what
 * became of each word it met, so that a word seen before costs one probe
 * of one table, without the stop-word test, the stemmer or a second
 * lookup.  The memo's slots are 32 bytes and hold the word itself (words
 * of up to MEMO_WORD bytes; longer ones are rare and take the long way).
 * Both grow until rag_analyzer_forget.
 */
#define MEMO_WORD 23
#define FRONT_SLOTS 2048 /* a power of two */
/*
 * The memo's first size, in slots: large enough for the words of a
 * typical batch, so that it is seldom rebuilt (its pages are only touched
 * as words arrive).
 */
#define MEMO_FIRST 4096
#define STOP_ID UINT32_MAX /* the memo's id for a stop word */

/*
 * A memo key: the word's bytes, zero-padded, with its length in the last
 * byte (0 in an empty slot), compared as three integers.
 */
typedef struct memo_key {
	uint64_t w[3];
} memo_key;

struct memo_slot {
	memo_key k;
	uint32_t id, hash;
};

struct vocab_ent {
	uint32_t hash, off, len;
};

struct vocab {
	/*
	 * The memo proper, and in front of it a small direct-mapped copy of
	 * the slots used last (a few thousand frequent words make most of
	 * any text, and the front stays in the processor's cache).
	 */
	struct memo_slot *front;
	struct memo_slot *memo;
	size_t memo_size, memo_n; /* slots: a power of two, at most 3/4 full */
	uint32_t *slot;           /* term id + 1; 0 for an empty slot */
	size_t size;              /* a power of two, at least twice the terms */
	struct vocab_ent *ent;
	size_t n, cap;
	char *text;
	size_t len, text_cap;
};

struct rag_analyzer {
	enum kind kind;
	locale_t loc;                /* C.UTF-8 for LC_CTYPE; (locale_t)0 if unavailable */
	struct sb_stemmer *stemmer;  /* english and lucene only */
	struct vocab v;              /* for rag_analyze_ids */
	uint64_t (*stop)[2];         /* english: its stop words, hashed; empty slots 0 */
	char term[RAG_TERM_MAX + 1]; /* the word being built, lower-cased */
};

/* The classes of bytes.  Those below B_DIGIT never start a word. */
enum { B_SEP, B_APOS, B_DOT, B_COMMA, B_DIGIT, B_LETTER, B_HIGH };

/* clang-format off */
#define S B_SEP
#define A B_APOS
#define P B_DOT
#define C B_COMMA
#define D B_DIGIT
#define L B_LETTER
#define H B_HIGH
static const unsigned char byte_class[256] = {
	S, S, S, S, S, S, S, S, S, S, S, S, S, S, S, S, /* 0x00 */
	S, S, S, S, S, S, S, S, S, S, S, S, S, S, S, S, /* 0x10 */
	S, S, S, S, S, S, S, A, S, S, S, S, C, S, P, S, /* 0x20  !"#$%&'()*+,-./ */
	D, D, D, D, D, D, D, D, D, D, S, S, S, S, S, S, /* 0x30 0-9 :;<=>? */
	S, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, /* 0x40 @A-O */
	L, L, L, L, L, L, L, L, L, L, L, S, S, S, S, S, /* 0x50 P-Z [\]^_ */
	S, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, /* 0x60 `a-o */
	L, L, L, L, L, L, L, L, L, L, L, S, S, S, S, S, /* 0x70 p-z {|}~ DEL */
	H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, /* 0x80 */
	H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H,
	H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H,
	H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H,
	H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H,
	H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H,
	H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H,
	H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H,
};
#undef S
#undef A
#undef P
#undef C
#undef D
#undef L
#undef H
/* clang-format on */

/* The classes of characters beyond ASCII. */
enum { X_SEP, X_LETTER, X_MARK, X_IDEO, X_KANA, X_APOS, X_IGNORE };

/*
 * Combining marks: General_Category Mn, Mc and Me (Unicode 14.0), with
 * the gaps between ranges closed up where they hold only letters, decimal
 * digits and unassigned code points (letters are recognised first, so
 * the gaps change nothing).  Sorted, for a binary search.
 */
/* clang-format off */
static const uint32_t marks[][2] = {
	{0x0300, 0x036F}, {0x0483, 0x0489}, {0x0591, 0x05BD}, {0x05BF, 0x05BF},
	{0x05C1, 0x05C2}, {0x05C4, 0x05C5}, {0x05C7, 0x05C7}, {0x0610, 0x061A},
	{0x064B, 0x065F}, {0x0670, 0x0670}, {0x06D6, 0x06DC}, {0x06DF, 0x06E8},
	{0x06EA, 0x06ED}, {0x0711, 0x07F3}, {0x07FD, 0x07FD}, {0x0816, 0x082D},
	{0x0859, 0x085B}, {0x0898, 0x08E1}, {0x08E3, 0x0963}, {0x0981, 0x09E3},
	{0x09FE, 0x0A75}, {0x0A81, 0x0AE3}, {0x0AFA, 0x0B63}, {0x0B82, 0x0BD7},
	{0x0C00, 0x0C63}, {0x0C81, 0x0C83}, {0x0CBC, 0x0D4D}, {0x0D57, 0x0D57},
	{0x0D62, 0x0D63}, {0x0D81, 0x0DF3}, {0x0E31, 0x0E3A}, {0x0E47, 0x0E4E},
	{0x0EB1, 0x0ECD}, {0x0F18, 0x0F19}, {0x0F35, 0x0F35}, {0x0F37, 0x0F37},
	{0x0F39, 0x0F39}, {0x0F3E, 0x0F84}, {0x0F86, 0x0FBC}, {0x0FC6, 0x0FC6},
	{0x102B, 0x103E}, {0x1056, 0x109D}, {0x135D, 0x135F}, {0x1712, 0x1734},
	{0x1752, 0x17D3}, {0x17DD, 0x17DD}, {0x180B, 0x180D}, {0x180F, 0x193B},
	{0x1A17, 0x1A1B}, {0x1A55, 0x1A7F}, {0x1AB0, 0x1B44}, {0x1B6B, 0x1B73},
	{0x1B80, 0x1BF3}, {0x1C24, 0x1C37}, {0x1CD0, 0x1CD2}, {0x1CD4, 0x1DFF},
	{0x20D0, 0x20F0}, {0x2CEF, 0x2CF1}, {0x2D7F, 0x2DFF}, {0x302A, 0x302F},
	{0x3099, 0x309A}, {0xA66F, 0xA672}, {0xA674, 0xA67D}, {0xA69E, 0xA69F},
	{0xA6F0, 0xA6F1}, {0xA802, 0xA827}, {0xA82C, 0xA82C}, {0xA880, 0xA8C5},
	{0xA8E0, 0xA8F1}, {0xA8FF, 0xA92D}, {0xA947, 0xA953}, {0xA980, 0xA9C0},
	{0xA9E5, 0xAA4D}, {0xAA7B, 0xAAC1}, {0xAAEB, 0xAAEF}, {0xAAF5, 0xAAF6},
	{0xABE3, 0xABEA}, {0xABEC, 0xABED}, {0xFB1E, 0xFB1E}, {0xFE00, 0xFE0F},
	{0xFE20, 0xFE2F}, {0x101FD, 0x102E0}, {0x10376, 0x1037A}, {0x10A01, 0x10A3F},
	{0x10AE5, 0x10AE6}, {0x10D24, 0x10D27}, {0x10EAB, 0x10EAC}, {0x10F46, 0x10F50},
	{0x10F82, 0x10F85}, {0x11000, 0x11046}, {0x11070, 0x110BA}, {0x110C2, 0x110C2},
	{0x11100, 0x11134}, {0x11145, 0x11173}, {0x11180, 0x111C0}, {0x111C9, 0x111CC},
	{0x111CE, 0x111CF}, {0x1122C, 0x11237}, {0x1123E, 0x1123E}, {0x112DF, 0x11446},
	{0x1145E, 0x114C3}, {0x115AF, 0x115C0}, {0x115DC, 0x11640}, {0x116AB, 0x116B7},
	{0x1171D, 0x1172B}, {0x1182C, 0x1183A}, {0x11930, 0x11943}, {0x119D1, 0x119E0},
	{0x119E4, 0x11A3E}, {0x11A47, 0x11A99}, {0x11C2F, 0x11C3F}, {0x11C92, 0x11EF6},
	{0x16AF0, 0x16AF4}, {0x16B30, 0x16B36}, {0x16F4F, 0x16F92}, {0x16FE4, 0x16FF1},
	{0x1BC9D, 0x1BC9E}, {0x1CF00, 0x1CF46}, {0x1D165, 0x1D169}, {0x1D16D, 0x1D172},
	{0x1D17B, 0x1D182}, {0x1D185, 0x1D18B}, {0x1D1AA, 0x1D1AD}, {0x1D242, 0x1D244},
	{0x1DA00, 0x1DA36}, {0x1DA3B, 0x1DA6C}, {0x1DA75, 0x1DA75}, {0x1DA84, 0x1DA84},
	{0x1DA9B, 0x1E136}, {0x1E2AE, 0x1E2EF}, {0x1E8D0, 0x1E94A}, {0xE0100, 0xE01EF},
};
/* clang-format on */

static int is_mark(uint32_t cp)
{
	size_t lo = 0, hi = sizeof marks / sizeof marks[0];

	/* The common non-letters: Latin-1 and the general punctuation. */
	if (cp < 0x300 || (cp >= 0x2000 && cp < 0x20D0))
		return 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (cp < marks[mid][0])
			hi = mid;
		else if (cp > marks[mid][1])
			lo = mid + 1;
		else
			return 1;
	}
	return 0;
}

static int is_ideograph(uint32_t cp)
{
	return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
	       (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x20000 && cp <= 0x3FFFF);
}

/* Hiragana and katakana (not the middle dot, which separates words). */
static int is_kana(uint32_t cp)
{
	return (cp >= 0x3041 && cp <= 0x309F) || (cp >= 0x30A1 && cp <= 0x30FF && cp != 0x30FB) ||
	       (cp >= 0x31F0 && cp <= 0x31FF) || (cp >= 0xFF66 && cp <= 0xFF9F);
}

/* Characters that neither end a word nor appear in its term. */
static int is_ignorable(uint32_t cp)
{
	return cp == 0xAD || cp == 0x200C || cp == 0x200D || cp == 0x2060 || cp == 0xFEFF;
}

/* The class of a character beyond ASCII. */
static int classify(const rag_analyzer *a, uint32_t cp)
{
	if (is_ideograph(cp))
		return X_IDEO;
	if (is_kana(cp))
		return X_KANA;
	if (cp == 0x2019)
		return X_APOS;
	if (a->loc != (locale_t)0 && iswalnum_l((wint_t)cp, a->loc))
		return X_LETTER;
	if (is_mark(cp))
		return X_MARK;
	if (is_ignorable(cp))
		return X_IGNORE;
	/* Without the locale every other character counts as a letter. */
	return a->loc != (locale_t)0 ? X_SEP : X_LETTER;
}

/* The lower case of the letter cp (cp itself without the locale). */
static uint32_t lower(const rag_analyzer *a, uint32_t cp)
{
	wint_t w;

	if (a->loc == (locale_t)0)
		return cp;
	w = towlower_l((wint_t)cp, a->loc);
	if (w == 0 || w > 0x10FFFF || (w >= 0xD800 && w <= 0xDFFF))
		return cp;
	return (uint32_t)w;
}

/*
 * For joining: B_LETTER or B_DIGIT when s[i] starts a letter or an ASCII
 * digit, B_SEP otherwise (the end of the text included).  Digits beyond
 * ASCII count as letters.
 */
static int next_class(const rag_analyzer *a, const unsigned char *s, size_t i, size_t n)
{
	uint32_t cp;
	int c;

	if (i >= n)
		return B_SEP;
	c = byte_class[s[i]];
	if (c == B_LETTER || c == B_DIGIT)
		return c;
	if (c != B_HIGH)
		return B_SEP;
	if (!rag_utf8_decode((const char *)s + i, n - i, &cp))
		return B_SEP;
	return classify(a, cp) == X_LETTER ? B_LETTER : B_SEP;
}

/*
 * Appends cp to the term t[0..*tl) unless it would pass *lim; then it
 * lowers *lim to *tl, so that nothing more is added (the term is cut at
 * a character boundary), and sets *cut.
 */
static void put_cp(char *t, size_t *tl, size_t *lim, int *cut, uint32_t cp)
{
	char u[4];
	size_t k = rag_utf8_encode(cp, u);

	if (*tl + k <= *lim) {
		memcpy(t + *tl, u, k);
		*tl += k;
	} else {
		*lim = *tl;
		*cut = 1;
	}
}

/*
 * The length of the longest prefix of valid UTF-8 t[0..n) that has at
 * most max bytes and ends at a character boundary.
 */
static size_t cut_utf8(const char *t, size_t n, size_t max)
{
	if (n <= max)
		return n;
	while (max > 0 && ((unsigned char)t[max] & 0xC0) == 0x80)
		max--;
	return max;
}

#define K1(c) ((uint64_t)(unsigned char)(c))
#define K2(a, b) (K1(a) | K1(b) << 8)
#define K3(a, b, c) (K2(a, b) | K1(c) << 16)
#define K4(a, b, c, d) (K3(a, b, c) | K1(d) << 24)
#define K5(a, b, c, d, e) (K4(a, b, c, d) | K1(e) << 32)

/*
 * Whether t[0..n) is one of Lucene's 33 English stop words.  The bytes
 * are packed into an integer; no term byte is 0, so words of different
 * lengths never meet.
 */
static int lucene_stop(const char *t, size_t n)
{
	uint64_t key = 0;
	size_t i;

	if (n == 0 || n > 5)
		return 0;
	for (i = 0; i < n; i++)
		key |= K1(t[i]) << (8 * i);
	switch (key) {
	case K1('a'):
	case K2('a', 'n'):
	case K2('a', 's'):
	case K2('a', 't'):
	case K2('b', 'e'):
	case K2('b', 'y'):
	case K2('i', 'f'):
	case K2('i', 'n'):
	case K2('i', 's'):
	case K2('i', 't'):
	case K2('n', 'o'):
	case K2('o', 'f'):
	case K2('o', 'n'):
	case K2('o', 'r'):
	case K2('t', 'o'):
	case K3('a', 'n', 'd'):
	case K3('a', 'r', 'e'):
	case K3('b', 'u', 't'):
	case K3('f', 'o', 'r'):
	case K3('n', 'o', 't'):
	case K3('t', 'h', 'e'):
	case K3('w', 'a', 's'):
	case K4('i', 'n', 't', 'o'):
	case K4('s', 'u', 'c', 'h'):
	case K4('t', 'h', 'a', 't'):
	case K4('t', 'h', 'e', 'n'):
	case K4('t', 'h', 'e', 'y'):
	case K4('t', 'h', 'i', 's'):
	case K4('w', 'i', 'l', 'l'):
	case K4('w', 'i', 't', 'h'):
	case K5('t', 'h', 'e', 'i', 'r'):
	case K5('t', 'h', 'e', 'r', 'e'):
	case K5('t', 'h', 'e', 's', 'e'):
		return 1;
	default:
		return 0;
	}
}

/* Whether the analyzer drops t[0..n) as a stop word. */
static int is_stop(const rag_analyzer *a, const char *t, size_t n)
{
	uint64_t lo, hi;

	if (a->kind == K_LUCENE)
		return lucene_stop(t, n);
	if (n == 0 || n > STOP_WORD_MAX)
		return 0;
	stop_key(t, n, &lo, &hi);
	for (size_t j = stop_slot(lo, hi); a->stop[j][0]; j = (j + 1) & (STOP_SLOTS - 1))
		if (a->stop[j][0] == lo && a->stop[j][1] == hi)
			return 1;
	return 0;
}

/*
 * The term of word t[0..n) (a word of english, lucene or simple, the
 * possessive cut): NULL for a stop word, else the stem or the word itself,
 * *len its length, living in a or in t until the next call.  *bad is set
 * when the stemmer runs out of memory.
 */
static const char *normalize(rag_analyzer *a, const char *t, size_t n, size_t *len, int *bad)
{
	const sb_symbol *st;
	size_t sl;
	int latin = 0;

	*len = n;
	if (a->kind == K_SIMPLE || a->kind == K_NONE)
		return t;
	if (is_stop(a, t, n))
		return NULL;
	/*
	 * Words of one or two letters are left alone, as Porter's own
	 * implementation and Porter2 do ("us" stays "us", "s" is not emptied),
	 * and so is a word without an ASCII letter, which an English stemmer
	 * cannot change.
	 */
	for (size_t i = 0; i < n && !latin; i++)
		latin = t[i] >= 'a' && t[i] <= 'z';
	if (!latin || n <= 2)
		return t;
	st = sb_stemmer_stem(a->stemmer, (const sb_symbol *)t, (int)n);
	if (!st) {
		*bad = 1;
		return NULL;
	}
	sl = cut_utf8((const char *)st, (size_t)sb_stemmer_length(a->stemmer), RAG_TERM_MAX);
	if (sl == 0)
		return t;
	*len = sl;
	return (const char *)st;
}

/* Doubles a table of uint32 ids + 1 whose keys' hashes ent gives.  0 or -1. */
static int vocab_grow(struct vocab *v)
{
	size_t size = v->size ? 2 * v->size : 4096;
	uint32_t *slot = rag_zalloc(size, sizeof *slot);

	if (!slot)
		return -1;
	for (size_t i = 0; i < v->n; i++) {
		size_t j = v->ent[i].hash & (size - 1);
		while (slot[j])
			j = (j + 1) & (size - 1);
		slot[j] = (uint32_t)i + 1;
	}
	free(v->slot);
	v->slot = slot;
	v->size = size;
	return 0;
}

/* The id of term t[0..n), numbering it if it is new; UINT32_MAX when memory runs out. */
static uint32_t vocab_id(struct vocab *v, const char *t, size_t n)
{
	uint32_t h = rag_hash_key(t, n);
	size_t j;

	if (v->size) {
		for (j = h & (v->size - 1); v->slot[j]; j = (j + 1) & (v->size - 1)) {
			const struct vocab_ent *e = &v->ent[v->slot[j] - 1];
			if (e->hash == h && e->len == n && memcmp(v->text + e->off, t, n) == 0)
				return v->slot[j] - 1;
		}
	}
	if (v->n + 1 >= UINT32_MAX || v->len + n > UINT32_MAX ||
	    (2 * (v->n + 1) > v->size && vocab_grow(v) < 0))
		return UINT32_MAX;
	if (v->n == v->cap) {
		size_t cap = v->cap ? 2 * v->cap : 1024;
		struct vocab_ent *ne = realloc(v->ent, cap * sizeof *ne);
		if (!ne)
			return UINT32_MAX;
		v->ent = ne;
		v->cap = cap;
	}
	if (v->len + n > v->text_cap) {
		size_t cap = v->text_cap ? 2 * v->text_cap : 16384;
		char *nt;
		while (cap < v->len + n)
			cap *= 2;
		if (!(nt = realloc(v->text, cap)))
			return UINT32_MAX;
		v->text = nt;
		v->text_cap = cap;
	}
	memcpy(v->text + v->len, t, n);
	v->ent[v->n] = (struct vocab_ent){h, (uint32_t)v->len, (uint32_t)n};
	v->len += n;
	for (j = h & (v->size - 1); v->slot[j]; j = (j + 1) & (v->size - 1))
		;
	v->slot[j] = (uint32_t)++v->n;
	return (uint32_t)(v->n - 1);
}

/* The id of word t[0..n)'s term, STOP_ID for a stop word; -1 when memory runs out. */
static int64_t term_id(rag_analyzer *a, const char *t, size_t n)
{
	const char *term;
	size_t tl;
	uint32_t id;
	int bad = 0;

	term = normalize(a, t, n, &tl, &bad);
	if (bad)
		return -1;
	if (!term)
		return STOP_ID;
	id = vocab_id(&a->v, term, tl);
	return id == UINT32_MAX ? -1 : (int64_t)id;
}

static inline int key_eq(const memo_key *a, const memo_key *b)
{
	return a->w[0] == b->w[0] && a->w[1] == b->w[1] && a->w[2] == b->w[2];
}

static inline int key_empty(const memo_key *k)
{
	return ((const unsigned char *)k)[MEMO_WORD] == 0;
}

/* Doubles the memo (the front stays valid).  0, or -1 when memory runs out. */
static int memo_grow(struct vocab *v)
{
	size_t size = v->memo_size ? 2 * v->memo_size : MEMO_FIRST;
	struct memo_slot *nm = rag_zalloc(size, sizeof *nm);

	if (!nm)
		return -1;
	if (!v->front && !(v->front = rag_zalloc(FRONT_SLOTS, sizeof *v->front))) {
		free(nm);
		return -1;
	}
	for (size_t i = 0; i < v->memo_size; i++) {
		size_t j;
		if (key_empty(&v->memo[i].k))
			continue;
		for (j = v->memo[i].hash & (size - 1); !key_empty(&nm[j].k); j = (j + 1) & (size - 1))
			;
		nm[j] = v->memo[i];
	}
	free(v->memo);
	v->memo = nm;
	v->memo_size = size;
	return 0;
}

/*
 * The memo key of word t[0..n), 0 < n <= MEMO_WORD, read with whole
 * loads: t[0..MEMO_WORD] must be readable, whatever lies past the word.
 */
static inline void key_of(const char *t, size_t n, memo_key *k)
{
	static const unsigned char ones[2 * (MEMO_WORD + 1)] = {
	    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
	    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255};
	uint64_t w[3], m[3];

	memcpy(w, t, sizeof w);
	memcpy(m, ones + MEMO_WORD + 1 - n, sizeof m);
	k->w[0] = w[0] & m[0];
	k->w[1] = w[1] & m[1];
	k->w[2] = w[2] & m[2];
	/* the length goes in the last byte, which the mask cleared */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	k->w[2] |= (uint64_t)n;
#else
	k->w[2] |= (uint64_t)n << 56;
#endif
}

static inline uint32_t key_hash(const memo_key *k)
{
	uint64_t x = k->w[0] * 0x9E3779B97F4A7C15ULL ^ k->w[1] * 0xC2B2AE3D27D4EB4FULL ^
		     k->w[2] * 0x165667B19E3779F9ULL;

	return (uint32_t)(x >> 32) ^ (uint32_t)x;
}

/*
 * term_id through the memo, for word t[0..n) whose key and hash are
 * given, when the front does not have it.
 */
static int64_t keyed_id(rag_analyzer *a, const char *t, size_t n, const memo_key *key, uint32_t h)
{
	struct vocab *v = &a->v;
	struct memo_slot *f, *m;
	int64_t id;
	size_t j;

	if (v->memo_size) {
		f = &v->front[h & (FRONT_SLOTS - 1)];
		for (j = h & (v->memo_size - 1); !key_empty(&v->memo[j].k);
		     j = (j + 1) & (v->memo_size - 1))
			if (key_eq(&v->memo[j].k, key)) {
				*f = v->memo[j];
				return f->id;
			}
	}
	if ((id = term_id(a, t, n)) < 0)
		return -1;
	if (4 * (v->memo_n + 1) > 3 * v->memo_size && memo_grow(v) < 0)
		return -1;
	for (j = h & (v->memo_size - 1); !key_empty(&v->memo[j].k); j = (j + 1) & (v->memo_size - 1))
		;
	m = &v->memo[j];
	m->k = *key;
	m->id = (uint32_t)id;
	m->hash = h;
	v->memo_n++;
	v->front[h & (FRONT_SLOTS - 1)] = *m;
	return id;
}

/* term_id through the front, then the memo, for word t[0..n) whose key and hash are given. */
static inline int64_t memo_id(rag_analyzer *a, const char *t, size_t n, const memo_key *key,
			      uint32_t h)
{
	const struct memo_slot *f = a->v.memo_size ? &a->v.front[h & (FRONT_SLOTS - 1)] : NULL;

	return f && key_eq(&f->k, key) ? f->id : keyed_id(a, t, n, key, h);
}

/* term_id through the memo; t[0..MEMO_WORD] must be readable when n is at most MEMO_WORD. */
static int64_t word_id(rag_analyzer *a, const char *t, size_t n)
{
	memo_key key;

	if (n > MEMO_WORD || n == 0)
		return term_id(a, t, n);
	key_of(t, n, &key);
	return memo_id(a, t, n, &key, key_hash(&key));
}

/* word_id for a word with nothing readable past its end. */
static int64_t word_id_copy(rag_analyzer *a, const char *t, size_t n)
{
	char pad[MEMO_WORD + 1] = {0};

	if (n <= MEMO_WORD) {
		memcpy(pad, t, n);
		t = pad;
	}
	return word_id(a, t, n);
}

/*
 * Where the terms go: to fn as text, to idfn as numbers, or as words
 * packed into pack (see rag_analyze_pack).
 */
typedef struct sink {
	rag_term_fn fn;
	rag_termid_fn idfn;
	rag_buf *pack;
	void *arg;
} sink;

/* The room a packed word may need: its length byte, the longest word, and the slack. */
#define PACK_ROOM (1 + RAG_TERM_MAX + RAG_WORDS_SLACK)

/*
 * Where analyze_words builds the next word: in the pack, past the length
 * byte, or in a->term.  NULL when memory runs out.
 */
static inline char *word_room(rag_analyzer *a, const sink *k)
{
	rag_buf *b = k->pack;

	if (!b)
		return a->term;
	if (b->cap - b->len < PACK_ROOM && rag_buf_grow(b, PACK_ROOM) < 0)
		return NULL;
	return b->data + b->len + 1;
}

/* emit's part for terms as text or numbers: t[0..tl) with the possessive cut. */
static int emit_term(rag_analyzer *a, const char *t, size_t tl, const sink *k, rag_error *err)
{
	const char *term;
	size_t len;
	int bad = 0;

	if (k->idfn) {
		int64_t id = word_id(a, t, tl);
		if (id < 0)
			return rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
		return id == STOP_ID ? 0 : k->idfn((uint32_t)id, k->arg);
	}
	term = normalize(a, t, tl, &len, &bad);
	if (bad)
		return rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
	return term ? k->fn(term, len, k->arg) : 0;
}

/* Ends the packed word of tl bytes built where word_room said: its length goes before it. */
static inline void pack_word(const sink *k, size_t tl)
{
	k->pack->data[k->pack->len] = (char)(unsigned char)tl;
	k->pack->len += 1 + tl;
}

/*
 * Passes the word in t[0..tl) (built where word_room said) on, after the
 * possessive, the stop words and the stemmer for english and lucene.
 * cut says the word was cut short.  A term handed to fn lives in a and
 * is valid during the call.  Returns the callback's value, or -1 with err
 * set when memory runs out.
 */
static inline int emit(rag_analyzer *a, const char *t, size_t tl, int cut, const sink *k,
		       rag_error *err)
{
	if (a->kind != K_SIMPLE && !cut && tl >= 3 && t[tl - 1] == 's' && t[tl - 2] == '\'')
		tl -= 2;
	if (k->pack) {
		pack_word(k, tl);
		return 0;
	}
	return emit_term(a, t, tl, k, err);
}

/*
 * The ASCII letters and digits that s[0..n) starts with, lower-cased
 * into t, which has room for n bytes: how many.  Most words are nothing
 * else, and this takes them sixteen bytes at a time where it can.
 */
static size_t ascii_run(const unsigned char *s, size_t n, char *t)
{
	size_t k = 0;

#ifdef __SSE2__
	const __m128i case_bit = _mm_set1_epi8(0x20);
	const __m128i a1 = _mm_set1_epi8('a' - 1), z1 = _mm_set1_epi8('z' + 1);
	const __m128i d1 = _mm_set1_epi8('0' - 1), d9 = _mm_set1_epi8('9' + 1);

	for (; k + 16 <= n; k += 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(s + k));
		/* digits have the case bit already; bytes from 0x80 compare as negative */
		__m128i low = _mm_or_si128(v, case_bit);
		__m128i letter = _mm_and_si128(_mm_cmpgt_epi8(low, a1), _mm_cmplt_epi8(low, z1));
		__m128i digit = _mm_and_si128(_mm_cmpgt_epi8(v, d1), _mm_cmplt_epi8(v, d9));
		unsigned stop = ~(unsigned)_mm_movemask_epi8(_mm_or_si128(letter, digit)) & 0xffff;
		_mm_storeu_si128((__m128i *)(t + k), low);
		if (stop)
			return k + (size_t)__builtin_ctz(stop);
	}
#endif
	for (; k < n; k++) {
		int c = byte_class[s[k]];
		if (c != B_LETTER && c != B_DIGIT)
			break;
		t[k] = (char)(s[k] | 0x20);
	}
	return k;
}

/* english, lucene and simple: words, lower-cased. */
static int analyze_words(rag_analyzer *a, const unsigned char *s, size_t n, const sink *sk,
			 rag_error *err)
{
	size_t i = 0;

	while (i < n) {
		size_t tl = 0, lim = RAG_TERM_MAX, k;
		int last = B_SEP, cut = 0, c, x, r;
		uint32_t cp;
		char *t;

		/* Separators, and punctuation that joins nothing here. */
		while (i < n && byte_class[s[i]] < B_DIGIT)
			i++;
		if (i >= n)
			break;
		if (!(t = word_room(a, sk)))
			return rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
		if (s[i] >= 0x80) {
			k = rag_utf8_decode((const char *)s + i, n - i, &cp);
			if (!k) {
				i++; /* an invalid byte: a separator */
				continue;
			}
			x = classify(a, cp);
			if (x == X_IDEO || x == X_KANA) {
				/*
				 * An ideograph is a word of its own; kana make
				 * words of their own runs.  Both keep the marks
				 * that follow.
				 */
				put_cp(t, &tl, &lim, &cut, cp);
				i += k;
				while (i < n && s[i] >= 0x80 &&
				       (k = rag_utf8_decode((const char *)s + i, n - i, &cp))) {
					int y = classify(a, cp);
					if (y == X_MARK || (y == X_KANA && x == X_KANA))
						put_cp(t, &tl, &lim, &cut, cp);
					else if (y != X_IGNORE)
						break;
					i += k;
				}
				if ((r = emit(a, t, tl, cut, sk, err)) != 0)
					return r;
				continue;
			}
			if (x != X_LETTER && x != X_MARK) {
				i += k;
				continue;
			}
		}
		/* A word starts at s[i]: its plain ASCII start at once, then the rest. */
		if (byte_class[s[i]] == B_LETTER || byte_class[s[i]] == B_DIGIT) {
			tl = ascii_run(s + i, n - i < lim ? n - i : lim, t);
			i += tl;
			last = byte_class[s[i - 1]];
		}
		while (i < n) {
			c = byte_class[s[i]];
			if (c == B_LETTER) {
				if (tl < lim)
					t[tl++] = (char)(s[i] | 0x20);
				else
					cut = 1;
				last = B_LETTER;
				i++;
			} else if (c == B_DIGIT) {
				if (tl < lim)
					t[tl++] = (char)s[i];
				else
					cut = 1;
				last = B_DIGIT;
				i++;
			} else if (c == B_HIGH) {
				k = rag_utf8_decode((const char *)s + i, n - i, &cp);
				if (!k)
					break;
				x = classify(a, cp);
				if (x == X_LETTER) {
					cp = lower(a, cp);
					last = B_LETTER;
				} else if (x == X_APOS && last == B_LETTER &&
					   next_class(a, s, i + k, n) == B_LETTER) {
					cp = '\'';
				} else if (x == X_IGNORE) {
					i += k;
					continue;
				} else if (x != X_MARK) {
					break;
				}
				put_cp(t, &tl, &lim, &cut, cp);
				i += k;
			} else if (((c == B_APOS || c == B_DOT) && last == B_LETTER &&
				    next_class(a, s, i + 1, n) == B_LETTER) ||
				   ((c == B_DOT || c == B_COMMA) && last == B_DIGIT &&
				    next_class(a, s, i + 1, n) == B_DIGIT)) {
				/* Joins the letters or digits on either side. */
				if (tl < lim)
					t[tl++] = (char)s[i];
				else
					cut = 1;
				i++;
			} else {
				break;
			}
		}
		if (tl == 0)
			continue;
		if ((r = emit(a, t, tl, cut, sk, err)) != 0)
			return r;
	}
	return 0;
}

/*
 * none: the text split at ASCII white space, the terms as written.  A
 * byte that is not part of valid UTF-8 separates terms too.
 */
static int analyze_none(rag_analyzer *a, const char *text, size_t n, const sink *sk,
			rag_error *err)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t i = 0, start, k;
	uint32_t cp;
	int r;

	while (i < n) {
		while (i < n && (rag_is_space(s[i]) ||
				 (s[i] >= 0x80 && !rag_utf8_decode(text + i, n - i, &cp))))
			i++;
		if (i >= n)
			break;
		start = i;
		while (i < n && !rag_is_space(s[i])) {
			if (s[i] < 0x80) {
				i++;
				continue;
			}
			k = rag_utf8_decode(text + i, n - i, &cp);
			if (!k)
				break;
			i += k;
		}
		k = cut_utf8(text + start, i - start, RAG_TERM_MAX);
		if (sk->pack) {
			char *t = word_room(a, sk);
			if (!t)
				return rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
			memcpy(t, text + start, k);
			pack_word(sk, k);
			r = 0;
		} else if (sk->idfn) {
			int64_t id = word_id_copy(a, text + start, k);
			if (id < 0)
				return rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
			r = sk->idfn((uint32_t)id, sk->arg);
		} else {
			r = sk->fn(text + start, k, sk->arg);
		}
		if (r)
			return r;
	}
	return 0;
}

/* The list is static: the caller neither frees nor changes it. */
const char *const *rag_analyzer_names(void)
{
	return names;
}

/*
 * The caller owns the analyzer and frees it with rag_analyzer_free.  A
 * NULL name means the default.
 */
rag_analyzer *rag_analyzer_new(const char *name, rag_error *err)
{
	rag_analyzer *a;
	size_t k, o = 0;
	char known[64];

	if (!name)
		name = names[0];
	for (k = 0; names[k]; k++)
		if (strcmp(names[k], name) == 0)
			break;
	if (!names[k]) {
		for (k = 0; names[k]; k++)
			o += (size_t)snprintf(known + o, sizeof known - o, "%s%s", k ? ", " : "",
					      names[k]);
		rag_error_set(err, RAG_EUSAGE, NULL, 0, "unknown analyzer %s (known: %s)",
			      rag_quote(0, name), known);
		return NULL;
	}
	a = calloc(1, sizeof *a);
	if (!a) {
		rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
		return NULL;
	}
	a->kind = (enum kind)k;
	a->loc = (locale_t)0;
	if (a->kind != K_NONE)
		a->loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
	if (algorithms[k]) {
		a->stemmer = sb_stemmer_new(algorithms[k], "UTF_8");
		if (!a->stemmer) {
			rag_error_set(err, RAG_ENOMEM, NULL, 0,
				      "cannot make the libstemmer stemmer %s for analyzer %s",
				      rag_quote(0, algorithms[k]), rag_quote(1, name));
			rag_analyzer_free(a);
			return NULL;
		}
	}
	if (a->kind == K_ENGLISH) {
		if (!(a->stop = calloc(STOP_SLOTS, sizeof *a->stop))) {
			rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
			rag_analyzer_free(a);
			return NULL;
		}
		for (size_t i = 0; i < sizeof english_stop / sizeof *english_stop; i++) {
			uint64_t lo, hi;
			size_t j;
			stop_key(english_stop[i], strlen(english_stop[i]), &lo, &hi);
			for (j = stop_slot(lo, hi); a->stop[j][0]; j = (j + 1) & (STOP_SLOTS - 1))
				;
			a->stop[j][0] = lo;
			a->stop[j][1] = hi;
		}
	}
	return a;
}

/* Frees a and all it holds; NULL is fine. */
void rag_analyzer_free(rag_analyzer *a)
{
	if (!a)
		return;
	sb_stemmer_delete(a->stemmer);
	free(a->v.memo);
	free(a->v.front);
	free(a->v.slot);
	free(a->v.ent);
	free(a->v.text);
	free(a->stop);
	if (a->loc != (locale_t)0)
		freelocale(a->loc);
	free(a);
}

/* A static string: one of rag_analyzer_names(). */
const char *rag_analyzer_name(const rag_analyzer *a)
{
	return names[a->kind];
}

/*
 * The terms handed to fn are borrowed: they live in a or in text and are
 * valid only during the call.
 */
/* text[0..n) into words or terms, for the sink. */
static int analyze(rag_analyzer *a, const char *text, size_t n, const sink *k, rag_error *err)
{
	if (n == 0)
		return 0;
	if (a->kind == K_NONE)
		return analyze_none(a, text, n, k, err);
	return analyze_words(a, (const unsigned char *)text, n, k, err);
}

int rag_analyze(rag_analyzer *a, const char *text, size_t n, rag_term_fn fn, void *arg,
		rag_error *err)
{
	sink k = {fn, NULL, NULL, arg};

	return analyze(a, text, n, &k, err);
}

int rag_analyze_ids(rag_analyzer *a, const char *text, size_t n, rag_termid_fn fn, void *arg,
		    rag_error *err)
{
	sink k = {NULL, fn, NULL, arg};

	return analyze(a, text, n, &k, err);
}

int rag_analyze_pack(rag_analyzer *a, const char *text, size_t n, rag_buf *out, rag_error *err)
{
	sink k = {NULL, NULL, out, NULL};
	size_t len = out->len;

	if (analyze(a, text, n, &k, err) < 0) {
		rag_buf_truncate(out, len);
		return -1;
	}
	if (out->cap - out->len < RAG_WORDS_SLACK && rag_buf_grow(out, RAG_WORDS_SLACK) < 0) {
		rag_buf_truncate(out, len);
		return rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
	}
	return 0;
}

/* Words looked up together: the keys of a group are read, and their memo slots fetched, at once. */
#define GROUP 16

long rag_analyzer_word_ids(rag_analyzer *a, const unsigned char *p, size_t n, uint32_t *ids)
{
	const unsigned char *end = p + n;
	long k = 0;

	if (!a->v.memo_size && memo_grow(&a->v) < 0)
		return -1;
	while (p < end) {
		memo_key key[GROUP];
		uint32_t h[GROUP];
		const unsigned char *w[GROUP];
		size_t g = 0;
		for (; g < GROUP && p < end; g++, p += 1 + (size_t)*p) {
			w[g] = p;
			if (*p <= MEMO_WORD && *p) {
				key_of((const char *)p + 1, *p, &key[g]);
				h[g] = key_hash(&key[g]);
				__builtin_prefetch(&a->v.front[h[g] & (FRONT_SLOTS - 1)]);
			}
		}
		for (size_t i = 0; i < g; i++) {
			const char *t = (const char *)w[i] + 1;
			size_t len = *w[i];
			int64_t id = len <= MEMO_WORD && len ? memo_id(a, t, len, &key[i], h[i])
							     : term_id(a, t, len);
			if (id < 0)
				return -1;
			ids[k] = (uint32_t)id;
			k += id != STOP_ID;
		}
	}
	return k;
}

const char *rag_analyzer_term(const rag_analyzer *a, uint32_t id, size_t *len)
{
	*len = a->v.ent[id].len;
	return a->v.text + a->v.ent[id].off;
}

size_t rag_analyzer_terms(const rag_analyzer *a)
{
	return a->v.n;
}

/* Keeps the memory for the terms to come. */
void rag_analyzer_forget(rag_analyzer *a)
{
	struct vocab *v = &a->v;

	if (v->memo) {
		memset(v->memo, 0, v->memo_size * sizeof *v->memo);
		memset(v->front, 0, FRONT_SLOTS * sizeof *v->front);
	}
	if (v->slot)
		memset(v->slot, 0, v->size * sizeof *v->slot);
	v->memo_n = v->n = v->len = 0;
}
