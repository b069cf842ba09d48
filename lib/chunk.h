/*
 * chunk.h - documents in, chunk records out.
 *
 * The chunker reads one input (a file, standard input, or the documents of
 * an NDJSON stream), finds its format, cuts each document with the
 * splitter and writes one record per chunk:
 *
 *   id          DOC#N, N counting the document's chunks from 1
 *   doc         the document id: the path for files ("-" or --doc-id
 *               for standard input), the id field for NDJSON documents
 *   source      the path, for files
 *   start, end  byte offsets of the chunk in the document (the file, or
 *               the NDJSON text field's value); for plain text and
 *               Markdown the bytes between them are exactly the text
 *   line_start, line_end   1-based lines of its first and last byte
 *   headings    the Markdown or HTML heading path, when there is one
 *   title       an HTML document's <title>
 *   ...         every other field of an NDJSON document, as it was
 *   text        the chunk
 *   hash        the first 32 hex digits of the SHA-256 of the record's
 *               text before the hash field: it changes exactly when
 *               anything else in the record changes
 *
 * Memory is bounded by the largest single document.
 */
#ifndef RAG_CHUNK_H
#define RAG_CHUNK_H

#include <stddef.h>

#include "error.h"
#include "loader.h"
#include "ndjson.h"
#include "split.h"

typedef enum {
	RAG_FMT_AUTO, /* by the file's extension; plain text otherwise */
	RAG_FMT_TEXT,
	RAG_FMT_MARKDOWN,
	RAG_FMT_HTML
} rag_format;

/* "text"/"txt"/"plain", "markdown"/"md", "html"/"htm"; -1 when unknown. */
int rag_format_parse(const char *name);

/* What a notice passed to the notify callback is about. */
enum {
	RAG_NOTE_SKIPPED, /* a bad input left out under skip_bad */
	RAG_NOTE_BINARY   /* a binary file found in a directory, left out */
};

typedef struct rag_chunk_stats {
	long files;      /* inputs read */
	long docs;       /* documents chunked */
	long chunks;     /* records written */
	long skipped;    /* bad inputs left out (skip_bad) */
	long binary;     /* binary files left out of directory walks */
	long repairs;    /* invalid UTF-8 sequences replaced (lossy) */
	unsigned long long bytes; /* document bytes read */
} rag_chunk_stats;

typedef struct rag_chunk_opts {
	rag_split_opts split;
	rag_format format;        /* RAG_FMT_AUTO: by extension */
	int json;                 /* every input is NDJSON documents */
	const char *text_field;   /* NDJSON: the text ("text") */
	const char *id_field;     /* NDJSON: the document id ("id") */
	const char *stdin_id;     /* the document id of plain text on stdin ("-") */
	int lossy;                /* replace invalid UTF-8 instead of failing */
	int skip_bad;             /* leave bad inputs out, counting them */
	const rag_loader *loaders;
	size_t nloaders;
	/* Called for each notice; may be NULL. */
	void (*notify)(void *ctx, int kind, const rag_error *e);
	/* Called after each document, for progress reports; may be NULL. */
	void (*progress)(void *ctx, const rag_chunk_stats *st);
	void *notify_ctx; /* passed to notify and progress */
} rag_chunk_opts;

typedef struct rag_chunker rag_chunker;

/* The options are copied; loaders and field names are borrowed. NULL with err. */
rag_chunker *rag_chunker_new(const rag_chunk_opts *o, rag_writer *w, rag_error *err);
void rag_chunker_free(rag_chunker *c);

/*
 * Chunks one input: a path, or "-" for standard input.  from_dir says the
 * path was found in a directory walk (binary files there are left out
 * quietly).  Returns 0, or -1 with err set.  Bad input (RAG_EDATA, or
 * RAG_EIO reading it) under skip_bad is counted, notified and answered
 * with 0; errors writing output are always returned.
 */
int rag_chunker_file(rag_chunker *c, const char *path, int from_dir, rag_error *err);

/*
 * Chunks one document given in memory.  source may be NULL; meta (may be
 * NULL) is an object whose fields are copied into every chunk.  text need
 * not be valid UTF-8 when the chunker is lossy; otherwise invalid UTF-8 is
 * an error naming the byte offset.  0 or -1 with err set.
 */
int rag_chunker_doc(rag_chunker *c, const char *doc_id, const char *source,
		    const char *text, size_t len, rag_format format,
		    json_t *meta, rag_error *err);

/*
 * Whether e (from rag_chunker_file) is about one input that could not be
 * read (cannot open or read it, its loader failed), after which the
 * chunker can go on with the next input.  Bad content and failures to
 * write are not.
 */
int rag_chunker_input_error(const rag_chunker *c, const rag_error *e);

/* Counts a bad input that the caller left out (skip_bad), notifying it. */
void rag_chunker_skip(rag_chunker *c, const rag_error *e);

const rag_chunk_stats *rag_chunker_stats(const rag_chunker *c);

#endif
