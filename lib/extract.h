/*
 * extract.h - the offline answerer (builtin:extractive).
 *
 * It answers a question with the sentences of the sources that best match
 * it, quoted as they are and each cited [n]: no model, no network, the
 * same answer every time.  It says plainly that the answer is extractive,
 * so that nobody takes it for a generated one.
 *
 * How sentences are chosen: every source's text is cut into sentences (as
 * rag-chunk's sentence strategy cuts them, and at blank lines); the
 * sentences are scored against the question with BM25 (k1 1.2, b 0.75,
 * statistics over the sentences of all the sources, terms from the named
 * analyzer); the best ones with a score above 0 and at least
 * RAG_EXTRACT_RELATIVE of the best score are kept (a sentence that shares
 * one common word with the question does not ride along with one that
 * answers it), except sentences longer than RAG_EXTRACT_SENTENCE_MAX
 * bytes; repeated sentences are quoted once, in source order, then text
 * order, so that they read as the sources do.
 * Ties go to the source with the lower number, then to the earlier
 * sentence.
 */
#ifndef RAG_EXTRACT_H
#define RAG_EXTRACT_H

#include <stddef.h>

#include "buf.h"
#include "error.h"

/* One source: its number (cited as [n]) and its text (valid UTF-8). */
typedef struct rag_extract_source {
	size_t n;
	const char *text;
	size_t len;
} rag_extract_source;

typedef struct rag_extract_opts {
	const char *analyzer; /* the analyzer's name; NULL for "english" */
	size_t sentences;     /* the most sentences quoted; 0 for RAG_EXTRACT_SENTENCES */
} rag_extract_opts;

#define RAG_EXTRACT_SENTENCES 3
/*
 * The longest sentence quoted, in bytes: a longer "sentence" is a table, a
 * listing or a record that the splitter found no end in, not prose to
 * quote whole.
 */
#define RAG_EXTRACT_SENTENCE_MAX 600
/* The least score a quoted sentence has, as a fraction of the best one's. */
#define RAG_EXTRACT_RELATIVE 0.5

/* What the answer quotes: source number n, bytes [start, end) of its text. */
typedef struct rag_extract_quote {
	size_t n, start, end;
	double score;
} rag_extract_quote;

/* The line the answer starts with. */
#define RAG_EXTRACT_LEAD                                                                           \
	"Extractive answer: the sentences of the sources that best match the question, "           \
	"quoted as they are (no model wrote this)."

/* The answer when no sentence shares a term with the question. */
#define RAG_EXTRACT_NONE "The sources hold no sentence that matches the question."

/*
 * Answers question q[0..qlen) from src[0..nsrc): appends to out the lead
 * line, a newline, and the quoted sentences (white space inside each
 * made single spaces), each followed by " [n]" and separated by spaces;
 * or RAG_EXTRACT_NONE after the lead line.  quotes (may be NULL; room for
 * o->sentences) gets what was quoted, in the order written.  Returns how
 * many sentences were quoted, or -1 with err set (an unknown analyzer:
 * RAG_EUSAGE; out of memory).
 */
long rag_extract_answer(const char *q, size_t qlen, const rag_extract_source *src, size_t nsrc,
                        const rag_extract_opts *o, rag_buf *out, rag_extract_quote *quotes,
                        rag_error *err);

#endif
