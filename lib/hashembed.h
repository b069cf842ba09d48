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
 * 2. Features.
 *      a. the words: every word of the text, in text order;
 *      b. the bigrams: every pair (p, w) of consecutive words, p before
 *         w, whatever lies between them (the first word starts none);
 *      c. the character n-grams of each distinct word w (once per word,
 *         not once per occurrence): w is wrapped as "<" w ">", a string
 *         of L = (code points of w) + 2 code points; for each start
 *         position i = 0 .. L-3 in turn, and at each i for n = 3, 4, 5 in
 *         turn while i + n <= L, the substring of n code points (not
 *         bytes) from i.  So a word of one character gives only its
 *         wrapped form ("<a>"), one of two characters gives "<ab",
 *         "<ab>", "ab>", and one of k characters gives 3k - 3 n-grams
 *         when k >= 2.
 *
 * 3. Weights.  tf(w) is the number of times the word w occurs in the
 *    text, tf(p, w) the number of times the bigram does, and
 *    l(t) = 1 + ln t.  A word weighs l(tf(w)), a bigram l(tf(p, w)) / 2,
 *    and each n-gram of a distinct word w weighs l(tf(w)) / 2: a word's
 *    n-grams follow its own sublinear count.  N-grams are not counted
 *    across the text: each n-gram of each distinct word is added on its
 *    own, so an n-gram that several words share ("ind" in "index",
 *    "indexing", "indexed"), or that one word holds twice ("ana" in
 *    "banana"), gets the sum of the weights of its occurrences,
 *    sum over w of m(w) * l(tf(w)) / 2 with m(w) its occurrences among
 *    the n-grams of w.  Halving is exact, so no product rounds.
 *    Words carry what a text is about; bigrams add phrase and word
 *    order; n-grams let inflected forms of one word meet, while any one
 *    n-gram weighs half its word.
 *
 * 4. Hashing.  mix(z) is the splitmix64 finaliser on 64-bit unsigned
 *    integers, all arithmetic modulo 2^64:
 *        z ^= z >> 30; z *= 0xbf58476d1ce4e5b9;
 *        z ^= z >> 27; z *= 0x94d049bb133111eb;
 *        z ^= z >> 31;
 *    H(K, s), for a 64-bit key K and bytes s[0..n), reads s in blocks of
 *    8 bytes, the last one shorter when n is not a multiple of 8 (no
 *    blocks when n is 0), each block b[0..k) as the little-endian integer
 *    b[0] + b[1] * 2^8 + ... + b[k-1] * 2^(8(k-1)), and computes
 *        h = K ^ (n * 2^56);  for each block B in order: h = mix(h ^ B);
 *    with h = mix(K) when n is 0.  So it depends neither on the
 *    machine's byte order nor on the C library, and for n <= 7 (most
 *    n-grams) distinct strings of one key never share a hash.
 *        word w:         hw(w) = H(0x9e3779b97f4a7c15, w)
 *        bigram (p, w):  mix(0xd1b54a32d192ed03 ^ rotl(hw(p), 23) ^ hw(w)),
 *                        rotl a left rotation of the 64 bits
 *        n-gram c:       H(0x8cb92ba72f3d8dd7, c), c's bytes with "<", ">"
 *    A feature with hash h goes to bucket ((h mod 2^32) * dim) >> 32
 *    (that is, floor((h mod 2^32) * dim / 2^32), exact in 64-bit
 *    integers), with sign +1 when bit 63 of h is 0, -1 when it is 1.
 *
 * 5. The vector.  In IEEE-754 double arithmetic, each bucket starts at 0
 *    and gets sign * weight added for each distinct word in the order of
 *    first occurrence (first the word, then its n-grams in the order of
 *    step 2c), then for each distinct bigram in the order of first
 *    occurrence.  The norm is sqrt((S0 + S1) + (S2 + S3)), where Sj is
 *    the sum of the squares of the buckets k with k mod 4 = j, from the
 *    lowest k up, each square rounded to double before it is added.
 *    Each component is bucket * (1 / norm), rounded to double and then to
 *    float.  When the norm is 0 the vector is all zeros: a zero vector
 *    cannot be normalised and the caller decides what it means.  That
 *    happens for a text without words and otherwise only by features
 *    cancelling exactly, which takes a tiny dim.
 *
 * ln is the natural logarithm as hashembed.c computes it with basic IEEE
 * operations in a fixed order (a series in double, within one unit in the
 * last place of the C library's log), not with the C library's log, and
 * no step is left for the compiler to fuse into a multiply-add that would
 * round differently, so that the floats are the same bit for bit on every
 * machine that computes double as IEEE binary64 (FLT_EVAL_METHOD 0).
 *
 * Words and bigrams are counted by their 64-bit hashes: two distinct
 * words or bigrams of one text with the same hash (a chance of about
 * m^2 / 2^65 for m of them) are counted as one, of the kind of the one
 * that came first.  This is part of the algorithm, not an error.
 *
 * The dimension is 1 to RAG_HASHEMBED_DIM_MAX; rag-embed's default is 512.
 * A text may have at most RAG_HASHEMBED_FEATURES_MAX distinct words and
 * bigrams together (English text has far fewer than one per byte); past
 * it the embedding fails with RAG_ENOMEM instead of growing its table
 * without end.
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
 * Rounds v[0..dim) to six decimal places, all that a component of
 * builtin:hash says (a half away from zero), as builtin:hash's vectors
 * are given out: written shorter, and read back the same.
 */
void rag_hashembed_round(float *v, size_t dim);

/*
 * The 64-bit hash of step 4 of the feature written as the string
 * s[0..n), for the tests and for tools that explain a vector: "w" 0x1F w
 * for the word w, "b" 0x1F p " " w for the bigram (p, w) (split at the
 * first space; words have none), "c" 0x1F c for the n-gram c.  0 for a
 * string of no such form.  Its bucket is ((hash mod 2^32) * dim) >> 32
 * and its sign is - when bit 63 is set.
 */
uint64_t rag_hashembed_feature_hash(const char *s, size_t n);

#endif
