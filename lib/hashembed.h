/*
 * hashembed.h - builtin:hash, the embedding model that needs nothing.
 *
 * Signed feature hashing ("the hashing trick") of words, word pairs and
 * character n-grams, with sublinear term frequency, L2-normalised.  It has
 * no weights and makes no network call, and it gives the same vector for
 * the same text and dimension on every machine and in every run.  Stores
 * keep these vectors, so the algorithm below is a file format: any change
 * to it is a new model with a new name, never a silent change of this one.
 *
 * The algorithm, for a text and a dimension dim:
 *
 * 1. Words.  The text is analysed with ragkit's "simple" analyzer
 *    (analyze.h): Unicode-aware words, lower-cased, no stop words, no
 *    stemming, each cut to RAG_TERM_MAX bytes at a character boundary as
 *    the analyzer does.  A text without words gives the zero vector.
 *
 * 2. Features, taken word by word in text order; for each word w:
 *      a. the unigram:    "w" 0x1F w
 *      b. the bigram:     "b" 0x1F p " " w, where p is the word before w
 *         (every pair of consecutive words, whatever lies between them;
 *         the first word has none);
 *      c. the character n-grams: w is wrapped as "<" w ">", a string of
 *         L = (code points of w) + 2 code points; for each start position
 *         i = 0 .. L-3 in turn, and at each i for n = 3, 4, 5 in turn
 *         while i + n <= L, the substring of n code points (not bytes)
 *         from i: "c" 0x1F substring.  So a word of one character gives
 *         only its wrapped form ("<a>"), one of two characters gives
 *         "<ab", "<ab>", "ab>", and one of k characters gives
 *         3k - 3 n-grams when k >= 2.
 *    The prefix letter and the unit separator (byte 0x1F, which no word
 *    contains) keep the three kinds apart.
 *
 * 3. Counting.  tf is the number of times a feature (a feature string)
 *    occurs among the features of the text.  Its weight is
 *        (1 + ln tf) * g,  g = 1 for unigrams, 1/2 for bigrams and 1/2
 *                          for character n-grams.
 *    The group weights are powers of two, so multiplying by them is exact.
 *    Unigrams carry what a text is about; bigrams add phrase and word
 *    order; the n-grams let inflected forms of one word meet ("index",
 *    "indexing", "indexed" share "<in", "ind", "<inde", "index", ...),
 *    while any one n-gram weighs half a word.  On paraphrase pairs these
 *    weights separated related from unrelated texts better than n-gram
 *    weights of 1/4 or 1/8.
 *
 * 4. Hashing.  A feature string s of bytes s[0..n) is hashed to 64 bits:
 *        h = 0xcbf29ce484222325;                   FNV-1a 64
 *        for each byte: h ^= byte; h *= 0x100000001b3;
 *        h ^= h >> 30; h *= 0xbf58476d1ce4e5b9;   the splitmix64 finaliser
 *        h ^= h >> 27; h *= 0x94d049bb133111eb;
 *        h ^= h >> 31;
 *    all modulo 2^64 on unsigned bytes, so it depends neither on the
 *    machine's byte order nor on the C library.  The feature goes to
 *    bucket h mod dim with sign +1 when bit 63 of h is 0, -1 when it is 1.
 *
 * 5. The vector.  In IEEE-754 double arithmetic, each bucket starts at 0
 *    and each distinct feature adds sign * weight to its bucket, in the
 *    order the features first occur in step 2.  The norm is the square
 *    root of the sum of the squares of the buckets, taken from bucket 0
 *    up; each component is bucket / norm, rounded to float.  When the norm
 *    is 0 the vector is all zeros: a zero vector cannot be normalised and
 *    the caller decides what it means.  That happens for a text without
 *    words and otherwise only by features cancelling exactly, which takes
 *    a tiny dim.
 *
 * ln is the natural logarithm as hashembed.c computes it with basic IEEE
 * operations in a fixed order (a series in double, within one unit in the
 * last place of the C library's log), not with the C library's log, and
 * no step is left for the compiler to fuse into a multiply-add that would
 * round differently, so that the floats are the same bit for bit on every
 * machine that computes double as IEEE binary64 (FLT_EVAL_METHOD 0).
 *
 * Features are counted by their 64-bit hashes: two distinct feature
 * strings of one text with the same hash (a chance of about m^2 / 2^65
 * for m distinct features) are counted as one feature, with the group of
 * the one that came first.  This is part of the algorithm, not an error.
 *
 * The dimension is 1 to RAG_HASHEMBED_DIM_MAX; rag-embed's default is 512.
 * A text may have at most RAG_HASHEMBED_FEATURES_MAX distinct features
 * (English text has far fewer than one per byte); past it the embedding
 * fails with RAG_ENOMEM instead of growing its table without end.
 */
#ifndef RAG_HASHEMBED_H
#define RAG_HASHEMBED_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define RAG_HASHEMBED_DIM_MAX 65536
#define RAG_HASHEMBED_FEATURES_MAX ((size_t)1 << 22)

/*
 * An embedder: the dimension and working memory (an analyzer, the
 * counting table, the buckets), reused from text to text.  Not safe for
 * use from two threads at once; make one per thread.  Embedders of the
 * same dimension give identical vectors.
 */
typedef struct rag_hashembed rag_hashembed;

/*
 * A new embedder for vectors of dim components, owned by the caller (free
 * it with rag_hashembed_free), or NULL with err set: RAG_EUSAGE for a dim
 * outside 1..RAG_HASHEMBED_DIM_MAX, RAG_ENOMEM when memory runs out.
 */
rag_hashembed *rag_hashembed_new(size_t dim, rag_error *err);

/* Frees the embedder and all its memory; NULL is fine. */
void rag_hashembed_free(rag_hashembed *h);

/* The dimension the embedder was made with. */
size_t rag_hashembed_dim(const rag_hashembed *h);

/*
 * Embeds text[0..n), which is valid UTF-8 (text may be NULL when n is
 * 0), into out[0..dim), which the caller owns.  Returns 1 for a unit
 * vector, 0 when out is the zero vector (the text has no words, or at a
 * tiny dim its features cancel), or -1 with err set (RAG_ENOMEM: memory
 * ran out or the text has more than RAG_HASHEMBED_FEATURES_MAX distinct
 * features), when out is all zeros too.
 * The embedder stays usable after an error.  The working memory is kept
 * for the next text, except what an unusually large text needed.
 */
int rag_hashembed_text(rag_hashembed *h, const char *text, size_t n, float *out, rag_error *err);

/*
 * The 64-bit hash of feature string s[0..n) as step 4 defines it, for the
 * tests and for tools that explain a vector.  Its bucket is the hash mod
 * dim and its sign is - when bit 63 is set.
 */
uint64_t rag_hashembed_feature_hash(const char *s, size_t n);

#endif
