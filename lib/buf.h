/*
 * buf.h - growable byte buffers with a size cap.
 *
 * Every buffer that grows with its input has a cap, so that a runaway
 * input ends in a clear error instead of exhausting memory.  The bytes are
 * always followed by a NUL that is not counted in len, so data can be used
 * as a C string when it holds no NUL of its own.
 */
#ifndef RAG_BUF_H
#define RAG_BUF_H

#include <stddef.h>
#include <string.h>

typedef struct rag_buf {
	char *data;  /* owned; NULL until the first byte is added */
	size_t len;  /* bytes in use */
	size_t cap;  /* bytes allocated, not counting the NUL */
	size_t max;  /* the cap on len */
} rag_buf;

/* The default cap: 4 GiB, far above any sane record or document. */
#define RAG_BUF_DEFAULT_MAX ((size_t)1 << 32)

/* Initialises an empty buffer; max 0 means RAG_BUF_DEFAULT_MAX. */
void rag_buf_init(rag_buf *b, size_t max);

/* Frees the bytes and leaves an empty buffer with the same cap. */
void rag_buf_free(rag_buf *b);

/*
 * Makes room for extra more bytes.  Returns 0, or -1 when memory runs out
 * or len + extra would pass the cap (errno is ENOMEM or EFBIG).
 */
int rag_buf_grow(rag_buf *b, size_t extra);

/* Appends n bytes, or a C string, or one byte. 0 or -1 as rag_buf_grow. */
static inline int rag_buf_add(rag_buf *b, const void *p, size_t n)
{
	if ((b->cap - b->len < n || !b->data) && rag_buf_grow(b, n) < 0)
		return -1;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

static inline int rag_buf_adds(rag_buf *b, const char *s)
{
	return rag_buf_add(b, s, strlen(s));
}

static inline int rag_buf_addc(rag_buf *b, char c)
{
	if ((b->cap == b->len || !b->data) && rag_buf_grow(b, 1) < 0)
		return -1;
	b->data[b->len++] = c;
	b->data[b->len] = '\0';
	return 0;
}

/* Appends formatted text. 0 or -1. */
int rag_buf_addf(rag_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Shortens the buffer to n bytes (n <= len). */
static inline void rag_buf_truncate(rag_buf *b, size_t n)
{
	if (n < b->len) {
		b->len = n;
		b->data[n] = '\0';
	}
}

/*
 * Makes room for at least need elements of size bytes each in the array
 * *pv (a pointer to the array pointer) whose capacity is *cap, doubling it
 * from 16.  0, or -1 when memory runs out (the array stays as it was).
 */
int rag_array_reserve(void *pv, size_t *cap, size_t need, size_t size);

/*
 * Has the pages of p[0..n) made present at once when n is large, rather
 * than faulted in one by one as they are first written (see buf.c).
 */
void rag_prefault(void *p, size_t n);

/*
 * calloc for a table that is read before it is written (a hash table's
 * probes): the memory is written zeros at once.  Pages calloc leaves
 * untouched are first mapped to the shared zero page, and the first write
 * to each then costs a second fault and, once the program has a second
 * thread, a flush of every processor's TLB.  NULL when memory runs out.
 */
void *rag_zalloc(size_t n, size_t size);

/*
 * Appends all that fd gives, to the end of input, keeping the NUL after
 * it.  With stop_at_nul, stops at the first read that brings a NUL byte
 * (leaving those bytes out) and returns 1.  0 at the end of input, -1
 * with errno set: EFBIG when b's cap is reached with input left, ENOMEM,
 * or the error of read.
 */
int rag_buf_read_fd(rag_buf *b, int fd, int stop_at_nul);

/*
 * Hands the bytes to the caller (who frees them) and leaves the buffer
 * empty.  Never NULL: an empty buffer gives "".  Returns NULL only when
 * memory runs out.
 */
char *rag_buf_release(rag_buf *b);

#endif
