/*
 * analyze.h - turning text into index terms.
 *
 * An analyzer splits text into words, lower-cases them, drops stop words
 * and stems what is left, the same way for the records a store indexes
 * and for the queries it answers.  A store records the name of its
 * analyzer at creation and uses it for ever after.
 *
 * Analyzers (rag-store(5) documents them for users):
 *   english  Unicode-aware words, lower-cased; the possessive "'s" removed;
 *            the function words of general English dropped (127 of them);
 *            the Snowball English ("Porter2") stemmer.  The default.
 *   lucene   as Lucene's English analyzer: the same words, Lucene's 33 stop
 *            words, Porter's stemmer; for comparing with Lucene-based systems.
 *   simple   Unicode-aware words, lower-cased; no stop words, no stemming.
 *   none     exact terms: the text split at white space, nothing else.
 *
 * An analyzer keeps working memory and is not safe for use from two
 * threads at once; make one per thread.
 */
#ifndef RAG_ANALYZE_H
#define RAG_ANALYZE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"

typedef struct rag_analyzer rag_analyzer;

/* Terms longer than this many bytes are cut to it (at a character boundary). */
#define RAG_TERM_MAX 255

/* The names of the analyzers, NULL-terminated, the default first. */
const char *const *rag_analyzer_names(void);

/* A new analyzer, or NULL with err set (RAG_EUSAGE for an unknown name). */
rag_analyzer *rag_analyzer_new(const char *name, rag_error *err);
void rag_analyzer_free(rag_analyzer *a);
const char *rag_analyzer_name(const rag_analyzer *a);

/*
 * Called for each term, in text order; the term is valid only during the
 * call.  A non-zero return stops the analysis and is passed back.
 */
typedef int (*rag_term_fn)(const char *term, size_t len, void *arg);

/*
 * Analyzes text[0..n), which is valid UTF-8.  Returns 0, the non-zero
 * value fn returned, or -1 with err set when memory runs out.
 */
int rag_analyze(rag_analyzer *a, const char *text, size_t n, rag_term_fn fn,
		void *arg, rag_error *err);

/*
 * For indexing: the analyzer numbers the terms it makes, from 0, and hands
 * fn the numbers instead of the text (a word it has met before costs one
 * table probe).  The numbers stay valid, and rag_analyzer_term gives their
 * text, until rag_analyzer_forget; rag_analyzer_terms tells how many there
 * are.  rag_analyze neither uses nor changes the numbering.
 */
typedef int (*rag_termid_fn)(uint32_t id, void *arg);
int rag_analyze_ids(rag_analyzer *a, const char *text, size_t n, rag_termid_fn fn,
		    void *arg, rag_error *err);
/*
 * The same in two steps, which may run in two threads with an analyzer
 * each.  rag_analyze_pack splits text into words (lower-cased, the
 * possessive cut: all that needs no memory of earlier words) and appends
 * them to out packed, each a length byte and its bytes, leaving at least
 * RAG_WORDS_SLACK bytes of room past the end; 0, or -1 with err set (out
 * as it was).  rag_analyzer_word_ids numbers the packed words p[0..n)
 * (with that room past them): the numbers of the words that make terms
 * (not stop words) go to ids, in order, with room for n / 2 of them.  It
 * returns how many, or -1 when memory runs out.  Packing words and
 * numbering them gives the numbers rag_analyze_ids gives.
 */
#define RAG_WORDS_SLACK 24
int rag_analyze_pack(rag_analyzer *a, const char *text, size_t n, rag_buf *out, rag_error *err);
long rag_analyzer_word_ids(rag_analyzer *a, const unsigned char *p, size_t n, uint32_t *ids);
const char *rag_analyzer_term(const rag_analyzer *a, uint32_t id, size_t *len);
size_t rag_analyzer_terms(const rag_analyzer *a);
void rag_analyzer_forget(rag_analyzer *a);

#endif
