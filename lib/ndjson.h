/*
 * ndjson.h - reading and writing line-delimited JSON.
 *
 * The reader streams lines of any length from a file descriptor, keeps the
 * source name and line number of each record for messages, and returns
 * each record both parsed and as its raw bytes (so a filter can pass a
 * record on byte for byte).  Blank lines are skipped.  A line that is not
 * a JSON object is an error that names the source and line; the reader can
 * go on with the next line afterwards, which is how --skip-bad works.
 *
 * The writer buffers whole records and writes them with write(2): the
 * output only ever holds complete lines, a closed pipe (EPIPE) comes back
 * as RAG_EPIPE for the program to end quietly, and after the first failure
 * every later call fails the same way, so the program reports it once.
 */
#ifndef RAG_NDJSON_H
#define RAG_NDJSON_H

#include <stddef.h>
#include <jansson.h>

#include "buf.h"
#include "error.h"
#include "json.h"

typedef struct rag_reader rag_reader;

enum {
	RAG_READ_LOSSY = 1 /* replace invalid UTF-8 with U+FFFD instead of failing */
};

/*
 * Reads from fd, which the reader does not close.  name is the source name
 * in messages ("<stdin>" for standard input); it is copied.  NULL when
 * memory runs out.
 */
rag_reader *rag_reader_new(int fd, const char *name, int flags);

/* Opens path for reading ("-" is standard input).  NULL with err set. */
rag_reader *rag_reader_open(const char *path, int flags, rag_error *err);

/* Closes what rag_reader_open opened and frees the reader; NULL is fine. */
void rag_reader_free(rag_reader *r);

/*
 * The next record: 1 with *rec a new reference to a JSON object, 0 at the
 * end of input, -1 with err set.  After a RAG_EDATA error (a bad line) the
 * next call goes on with the following line; after any other error the
 * reader is at its end.
 */
int rag_reader_next(rag_reader *r, json_t **rec, rag_error *err);

/*
 * Parses the line last returned by rag_reader_next_line as rag_reader_next
 * would (the members to build, their places, the messages): 0 with *rec a
 * new reference to a JSON object, or -1 with err set.  For a program that
 * reads lines and decides which are records.
 */
int rag_reader_parse(rag_reader *r, json_t **rec, rag_error *err);

/*
 * From now on rag_reader_next builds only the members of each record
 * named in keys (NULL-terminated, kept by the caller; NULL for all): the
 * rest are checked as JSON but left out of *rec.
 */
void rag_reader_keep(rag_reader *r, const char *const *keys);

/*
 * The next line as raw bytes, without its newline and without parsing:
 * 1 with *line and *len set (valid until the next call), 0 at the end, -1 with
 * err set.  Blank lines are returned too.
 */
int rag_reader_next_line(rag_reader *r, const char **line, size_t *len,
			 rag_error *err);

/* The raw bytes of the line last returned by rag_reader_next. */
const char *rag_reader_line(const rag_reader *r, size_t *len);

/*
 * Where the fields of the record last returned by rag_reader_next lie in
 * its line (offsets into rag_reader_line), in the order written.
 */
const rag_json_members *rag_reader_members(const rag_reader *r);

/*
 * Whether rag_reader_next_line would return without reading: a whole
 * line is buffered, or the input has ended.  A program that has other
 * work in flight (requests) waits on rag_reader_fd only when it would not.
 */
int rag_reader_ready(const rag_reader *r);
int rag_reader_fd(const rag_reader *r);

/* The number of the line last read (1-based), and the source name. */
long rag_reader_lineno(const rag_reader *r);
const char *rag_reader_name(const rag_reader *r);

/* With RAG_READ_LOSSY: the invalid sequences replaced so far. */
long rag_reader_repairs(const rag_reader *r);

typedef struct rag_writer rag_writer;

/*
 * Writes to fd (not closed by the writer).  Records are flushed in blocks,
 * or one by one when fd is a terminal.  NULL when memory runs out.
 */
rag_writer *rag_writer_new(int fd);

/*
 * Starts a record: returns the buffer to append its text to (without the
 * newline).  Finish it with rag_writer_end, or drop it with
 * rag_writer_cancel; nothing of it is written before rag_writer_end.
 */
rag_buf *rag_writer_begin(rag_writer *w);
int rag_writer_end(rag_writer *w, rag_error *err);
void rag_writer_cancel(rag_writer *w);

/* Writes rec as one compact line.  0 or -1 with err set. */
int rag_writer_put(rag_writer *w, const json_t *rec, int flags, rag_error *err);

/* Writes a raw line (a newline is added).  0 or -1 with err set. */
int rag_writer_put_raw(rag_writer *w, const char *line, size_t len, rag_error *err);

/* Writes out what is buffered.  0 or -1 with err set (RAG_EPIPE, RAG_EIO). */
int rag_writer_flush(rag_writer *w, rag_error *err);

/* Flushes and frees the writer; NULL is fine.  0 or -1 with err set. */
int rag_writer_close(rag_writer *w, rag_error *err);

#endif
