/* ndjson.c - reading and writing line-delimited JSON; see ndjson.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json.h"
#include "ndjson.h"
#include "utf8.h"

#define READ_CHUNK (256 * 1024)
#define FLUSH_AT (64 * 1024)

struct rag_reader {
	int fd, own_fd, flags, eof, dead;
	char *name;
	char *buf;            /* read buffer; holds [start, end) unconsumed */
	size_t cap, start, end;
	size_t max;           /* the longest line accepted */
	const char *line;     /* the last line returned */
	size_t line_len;
	long lineno;
	long repairs;
	rag_buf fixed;        /* the repaired line, with RAG_READ_LOSSY */
	rag_json_members members; /* of the last record */
	const char *const *keep;  /* the members to build, or NULL for all */
};

rag_reader *rag_reader_new(int fd, const char *name, int flags)
{
	rag_reader *r = calloc(1, sizeof *r);

	if (!r)
		return NULL;
	r->fd = fd;
	r->flags = flags;
	r->name = strdup(name ? name : "<stdin>");
	r->cap = READ_CHUNK;
	r->buf = malloc(r->cap);
	r->max = RAG_BUF_DEFAULT_MAX;
	rag_buf_init(&r->fixed, 0);
	if (!r->name || !r->buf) {
		rag_reader_free(r);
		return NULL;
	}
	return r;
}

rag_reader *rag_reader_open(const char *path, int flags, rag_error *err)
{
	rag_reader *r;
	int fd;

	if (strcmp(path, "-") == 0) {
		r = rag_reader_new(0, "<stdin>", flags);
		if (!r)
			rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
		return r;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rag_error_sys(err, errno, path, "cannot open");
		return NULL;
	}
	r = rag_reader_new(fd, path, flags);
	if (!r) {
		close(fd);
		rag_error_set(err, RAG_ENOMEM, path, 0, "out of memory");
		return NULL;
	}
	r->own_fd = 1;
	return r;
}

void rag_reader_free(rag_reader *r)
{
	if (!r)
		return;
	if (r->own_fd)
		close(r->fd);
	free(r->name);
	free(r->buf);
	rag_buf_free(&r->fixed);
	rag_json_members_free(&r->members);
	free(r);
}

/* Reads more input into the buffer.  1 read something, 0 end, -1 error. */
static int fill(rag_reader *r, rag_error *err)
{
	ssize_t n;

	if (r->start > 0) {
		memmove(r->buf, r->buf + r->start, r->end - r->start);
		r->end -= r->start;
		r->start = 0;
	}
	if (r->end == r->cap) {
		size_t cap = r->cap * 2;
		char *b;
		if (r->cap >= r->max) {
			r->dead = 1;
			return rag_error_set(err, RAG_ENOMEM, r->name, r->lineno + 1,
					     "line longer than %zu bytes", r->max);
		}
		if (cap > r->max)
			cap = r->max;
		b = realloc(r->buf, cap);
		if (!b) {
			r->dead = 1;
			return rag_error_set(err, RAG_ENOMEM, r->name, r->lineno + 1,
					     "out of memory reading a line of %zu bytes", r->end);
		}
		r->buf = b;
		r->cap = cap;
	}
	do
		n = read(r->fd, r->buf + r->end, r->cap - r->end);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		r->dead = 1;
		return rag_error_sys(err, errno, r->name, "read error");
	}
	if (n == 0) {
		r->eof = 1;
		return 0;
	}
	r->end += (size_t)n;
	return 1;
}

int rag_reader_ready(const rag_reader *r)
{
	return r->dead || r->eof || memchr(r->buf + r->start, '\n', r->end - r->start) != NULL;
}

int rag_reader_fd(const rag_reader *r)
{
	return r->fd;
}

int rag_reader_next_line(rag_reader *r, const char **line, size_t *len,
			 rag_error *err)
{
	size_t scanned = 0;

	if (r->dead)
		return 0;
	for (;;) {
		char *nl = memchr(r->buf + r->start + scanned, '\n',
				  r->end - r->start - scanned);
		if (nl) {
			r->line = r->buf + r->start;
			r->line_len = (size_t)(nl - r->line);
			r->start += r->line_len + 1;
			break;
		}
		scanned = r->end - r->start;
		if (r->eof) {
			if (r->end == r->start)
				return 0;
			/* A last line without its newline. */
			r->line = r->buf + r->start;
			r->line_len = r->end - r->start;
			r->start = r->end;
			break;
		}
		int k = fill(r, err);
		if (k < 0)
			return -1;
	}
	r->lineno++;
	/* A byte order mark before the first record is not part of it. */
	if (r->lineno == 1 && r->line_len >= 3 && memcmp(r->line, "\xEF\xBB\xBF", 3) == 0) {
		r->line += 3;
		r->line_len -= 3;
	}
	*line = r->line;
	*len = r->line_len;
	return 1;
}

static int blank(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return 0;
	return 1;
}

int rag_reader_next(rag_reader *r, json_t **rec, rag_error *err)
{
	const char *line;
	size_t len;
	int k;

	*rec = NULL;
	for (;;) {
		k = rag_reader_next_line(r, &line, &len, err);
		if (k <= 0)
			return k;
		if (!blank(line, len))
			break;
	}
	return rag_reader_parse(r, rec, err) < 0 ? -1 : 1;
}

int rag_reader_parse(rag_reader *r, json_t **rec, rag_error *err)
{
	const char *line = r->line;
	size_t len = r->line_len;
	json_t *j;

	*rec = NULL;
	if (r->flags & RAG_READ_LOSSY) {
		long fixes;
		if (rag_utf8_valid_prefix(line, len) < len) {
			r->fixed.len = 0;
			fixes = rag_utf8_repair(line, len, &r->fixed, NULL, 0);
			if (fixes < 0)
				return rag_error_set(err, RAG_ENOMEM, r->name, r->lineno, "out of memory");
			r->repairs += fixes;
			line = r->fixed.data;
			len = r->fixed.len;
			r->line = line;
			r->line_len = len;
		}
	}
	j = rag_json_parse_keys(line, len, &r->members, r->keep, err);
	if (!j)
		return rag_error_at(err, r->name, r->lineno);
	if (!json_is_object(j)) {
		json_decref(j);
		return rag_error_set(err, RAG_EDATA, r->name, r->lineno, "expected a JSON object");
	}
	*rec = j;
	return 0;
}

void rag_reader_keep(rag_reader *r, const char *const *keys)
{
	r->keep = keys;
}

const char *rag_reader_line(const rag_reader *r, size_t *len)
{
	*len = r->line_len;
	return r->line;
}

const rag_json_members *rag_reader_members(const rag_reader *r)
{
	return &r->members;
}

long rag_reader_lineno(const rag_reader *r)
{
	return r->lineno;
}

const char *rag_reader_name(const rag_reader *r)
{
	return r->name;
}

long rag_reader_repairs(const rag_reader *r)
{
	return r->repairs;
}

/* ---- writer ---- */

struct rag_writer {
	int fd;
	int failed;   /* the error code of the first failure, or RAG_OK */
	int errnum;
	size_t mark;  /* where the record in progress starts */
	size_t flush_at;
	rag_buf buf;
};

rag_writer *rag_writer_new(int fd)
{
	rag_writer *w = calloc(1, sizeof *w);

	if (!w)
		return NULL;
	w->fd = fd;
	w->flush_at = isatty(fd) ? 1 : FLUSH_AT;
	rag_buf_init(&w->buf, 0);
	return w;
}

static int failed(rag_writer *w, rag_error *err)
{
	if (w->failed == RAG_ENOMEM)
		return rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory building a record");
	if (w->failed == RAG_EPIPE)
		return rag_error_set(err, RAG_EPIPE, NULL, 0, "broken pipe");
	return rag_error_sys(err, w->errnum, NULL, "error writing output");
}

int rag_writer_flush(rag_writer *w, rag_error *err)
{
	size_t done = 0, n = w->mark;

	if (w->failed)
		return failed(w, err);
	while (done < n) {
		ssize_t k = write(w->fd, w->buf.data + done, n - done);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				struct pollfd p = {.fd = w->fd, .events = POLLOUT};
				poll(&p, 1, -1);
				continue;
			}
			w->errnum = errno;
			w->failed = errno == EPIPE ? RAG_EPIPE : RAG_EIO;
			return failed(w, err);
		}
		done += (size_t)k;
	}
	if (!n)
		return 0; /* nothing whole to write (and perhaps no buffer yet) */
	/* Keep a record in progress, if any, at the front. */
	memmove(w->buf.data, w->buf.data + n, w->buf.len - n);
	w->buf.len -= n;
	w->mark = 0;
	return 0;
}

rag_buf *rag_writer_begin(rag_writer *w)
{
	w->mark = w->buf.len;
	return &w->buf;
}

void rag_writer_cancel(rag_writer *w)
{
	rag_buf_truncate(&w->buf, w->mark);
}

int rag_writer_end(rag_writer *w, rag_error *err)
{
	if (w->failed) {
		rag_writer_cancel(w);
		return failed(w, err);
	}
	if (rag_buf_addc(&w->buf, '\n') < 0) {
		rag_writer_cancel(w);
		return rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory building a record");
	}
	w->mark = w->buf.len;
	if (w->buf.len >= w->flush_at)
		return rag_writer_flush(w, err);
	return 0;
}

int rag_writer_put(rag_writer *w, const json_t *rec, int flags, rag_error *err)
{
	rag_buf *b = rag_writer_begin(w);

	if (rag_json_dump(b, rec, flags) < 0) {
		rag_writer_cancel(w);
		return rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory building a record");
	}
	return rag_writer_end(w, err);
}

int rag_writer_put_raw(rag_writer *w, const char *line, size_t len, rag_error *err)
{
	rag_buf *b = rag_writer_begin(w);

	if (rag_buf_add(b, line, len) < 0) {
		rag_writer_cancel(w);
		return rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory building a record");
	}
	return rag_writer_end(w, err);
}

int rag_writer_close(rag_writer *w, rag_error *err)
{
	int rc = 0;

	if (!w)
		return 0;
	w->mark = w->buf.len;
	if (w->buf.len || w->failed)
		rc = rag_writer_flush(w, err);
	rag_buf_free(&w->buf);
	free(w);
	return rc;
}
