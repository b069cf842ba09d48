/*
 * split.h - cutting text into size-limited spans.
 *
 * The splitter works on byte spans of one UTF-8 text and never copies it.
 * A chunk is a span [start, end) of the text with the whitespace at both
 * ends trimmed; chunks are produced in order and never empty.
 *
 * Sizes are measured in one of three units:
 *   chars   Unicode code points;
 *   words   runs of characters other than ASCII white space;
 *   tokens  an estimate of what a BPE tokenizer produces: every run of
 *           letters and digits counts one token per started four
 *           characters, every other visible ASCII character (punctuation,
 *           symbols) and every character from U+2000 on (general
 *           punctuation, symbols, CJK, emoji) counts one, white space
 *           counts nothing.  For English prose this errs on the high side
 *           (about 1.5 tokens a word where GPT tokenizers give about 1.3),
 *           so a chunk sized in tokens fits a model's limit.
 * Every unit is subadditive: the size of two spans joined is at most the
 * sum of their sizes, which is what lets the splitter add sizes up.
 *
 * Strategies:
 *   recursive  split at paragraph breaks; pieces still too large at line
 *              breaks, then sentence ends, then white space, then between
 *              characters; then merge neighbouring pieces greedily up to
 *              the size, carrying up to `overlap` of trailing pieces into
 *              the next chunk (the behaviour of LangChain's
 *              RecursiveCharacterTextSplitter, with separators kept at the
 *              start of the piece they precede);
 *   sentence   pack whole sentences (and paragraphs) up to the size, with
 *              whole sentences as overlap; a sentence larger than the size
 *              is split as recursive would split it;
 *   fixed      windows of exactly `size` units (fewer at the end), each
 *              starting `size - overlap` units after the previous one.
 *
 * Atoms are spans that are never split (fenced code blocks in Markdown,
 * <pre> in HTML): no chunk boundary falls inside one.  An atom larger than
 * the size becomes a chunk of its own, the one case where a chunk exceeds
 * the size.
 */
#ifndef RAG_SPLIT_H
#define RAG_SPLIT_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef enum { RAG_UNIT_CHARS, RAG_UNIT_WORDS, RAG_UNIT_TOKENS } rag_unit;
typedef enum {
	RAG_SPLIT_RECURSIVE,
	RAG_SPLIT_SENTENCE,
	RAG_SPLIT_FIXED
} rag_strategy;

typedef struct rag_span {
	size_t start, end;
} rag_span;

typedef struct rag_spans {
	rag_span *v;
	size_t n, cap;
} rag_spans;

int rag_spans_push(rag_spans *s, size_t start, size_t end);
void rag_spans_free(rag_spans *s);

typedef struct rag_split_opts {
	rag_strategy strategy;
	rag_unit unit;
	size_t size;    /* >= 1 */
	size_t overlap; /* < size */
} rag_split_opts;

/* Names for the enums, as options spell them; -1 when unknown. */
int rag_unit_parse(const char *name);
int rag_strategy_parse(const char *name);
const char *rag_unit_name(rag_unit u);
const char *rag_strategy_name(rag_strategy s);

/* The size of valid UTF-8 s[0..n) in unit u. */
size_t rag_measure(rag_unit u, const char *s, size_t n);

typedef struct rag_splitter rag_splitter;

/* NULL with err set (bad options, no memory, a regex that will not compile). */
rag_splitter *rag_splitter_new(const rag_split_opts *o, rag_error *err);
void rag_splitter_free(rag_splitter *sp);

/*
 * Splits text[start..end) (valid UTF-8; start and end on code point
 * boundaries) and appends the chunks to out.  atoms, sorted and not
 * overlapping, may be NULL.  0, or -1 with err set (out of memory).
 */
int rag_splitter_run(rag_splitter *sp, const char *text, size_t start,
		     size_t end, const rag_span *atoms, size_t natoms,
		     rag_spans *out, rag_error *err);

/*
 * The sentence boundaries in text[start..end): the offsets where a new
 * sentence's leading white space begins.  Appended to out as spans with
 * start == end.  For tests and for the sentence strategy.  0 or -1.
 */
int rag_splitter_sentences(rag_splitter *sp, const char *text, size_t start,
			   size_t end, rag_spans *out, rag_error *err);

#endif
