/* buf.c - growable byte buffers with a size cap; see buf.h. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "buf.h"

/*
 * Asks the kernel to provide the pages of a large new stretch of memory at
 * once (MADV_POPULATE_WRITE, Linux 5.14), instead of one page fault per
 * page as it is first written.  A fault is cheap on bare metal but costly
 * under some hypervisors, where a program that fills a few megabytes can
 * spend most of its time in them.  Best effort: older kernels refuse, and
 * nothing changes.
 */
#define PREFAULT_MIN ((size_t)256 << 10)

void rag_prefault(void *p, size_t n)
{
#ifdef MADV_POPULATE_WRITE
	static size_t page;
	uintptr_t a, e;

	if (n < PREFAULT_MIN)
		return;
	if (!page) {
		long ps = sysconf(_SC_PAGESIZE);
		page = ps > 0 ? (size_t)ps : 4096;
	}
	a = ((uintptr_t)p + page - 1) & ~(uintptr_t)(page - 1);
	e = ((uintptr_t)p + n) & ~(uintptr_t)(page - 1);
	if (e > a)
		madvise((void *)a, e - a, MADV_POPULATE_WRITE);
#else
	(void)p;
	(void)n;
#endif
}

void *rag_zalloc(size_t n, size_t size)
{
	void *p;

	if (size && n > SIZE_MAX / size) {
		errno = ENOMEM;
		return NULL;
	}
	if ((p = malloc(n * size != 0 ? n * size : 1))) {
		rag_prefault(p, n * size);
		memset(p, 0, n * size);
	}
	return p;
}

void rag_buf_init(rag_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max ? max : RAG_BUF_DEFAULT_MAX;
}

void rag_buf_free(rag_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

int rag_buf_grow(rag_buf *b, size_t extra)
{
	size_t want, cap;
	char *p;

	if (extra > b->max || b->len > b->max - extra) {
		errno = EFBIG;
		return -1;
	}
	want = b->len + extra;
	if (want <= b->cap && b->data)
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap < want)
		cap = cap > b->max / 2 ? b->max : cap * 2;
	p = realloc(b->data, cap + 1);
	if (!p) {
		errno = ENOMEM;
		return -1;
	}
	/* only what is about to be written: the rest may never be */
	rag_prefault(p + b->cap, want - b->cap);
	if (!b->data)
		p[0] = '\0';
	b->data = p;
	b->cap = cap;
	return 0;
}

int rag_buf_read_fd(rag_buf *b, int fd, int stop_at_nul)
{
	for (;;) {
		ssize_t k;
		/* 64 KiB a read, or what room the cap leaves */
		if (b->cap - b->len < 65536 && rag_buf_grow(b, 65536) < 0 && rag_buf_grow(b, 1) < 0)
			return -1;
		k = read(fd, b->data + b->len, b->cap - b->len);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (k == 0)
			break;
		if (stop_at_nul && memchr(b->data + b->len, '\0', (size_t)k))
			return 1;
		b->len += (size_t)k;
	}
	b->data[b->len] = '\0';
	return 0;
}

int rag_buf_addf(rag_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || rag_buf_grow(b, (size_t)n) < 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

int rag_array_reserve(void *pv, size_t *cap, size_t need, size_t size)
{
	void **pp = pv;
	size_t n = *cap ? *cap : 16;
	void *p;

	if (need <= *cap)
		return 0;
	while (n < need) {
		if (n > SIZE_MAX / 2)
			return -1;
		n *= 2;
	}
	if (n > SIZE_MAX / size)
		return -1;
	p = realloc(*pp, n * size);
	if (!p)
		return -1;
	rag_prefault((char *)p + *cap * size, (need - *cap) * size);
	*pp = p;
	*cap = n;
	return 0;
}

char *rag_buf_release(rag_buf *b)
{
	char *p = b->data;

	if (!p) {
		p = malloc(1);
		if (p)
			p[0] = '\0';
		return p;
	}
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	return p;
}
