/*
 * ecache.c - the embedding cache (see ecache.h for the layout and the cap).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crc32c.h"
#include "ecache.h"
#include "hash.h"
#include "le.h"

#define MAGIC "RAGEMB1\n"
#define HEAD 16
#define TRIM_EVERY 64
#define RENEW_AFTER 3600 /* seconds */
#define STALE_TMP 3600   /* a temporary file this old was left by a crash */

struct rag_ecache {
	char *dir;
	size_t dirlen;
	unsigned long long max;
	rag_hasher *hasher;
	unsigned written[256]; /* entries written per subdirectory since its last trim */
	unsigned long long written_bytes[256]; /* and their bytes */
	unsigned long tmpno;
	unsigned long evicted;
	char *path; /* room for DIR/ab/<62 hex>.tmp-... */
};

/* mkdir -p with mode 0700.  0 or -1 with errno set. */
static int make_dirs(char *path)
{
	char *p = path + 1;

	for (;; p++) {
		if (*p == '/' || !*p) {
			char c = *p;
			*p = '\0';
			if (mkdir(path, 0700) < 0 && errno != EEXIST) {
				*p = c;
				return -1;
			}
			*p = c;
			if (!c)
				break;
		}
	}
	return 0;
}

rag_ecache *rag_ecache_open(const char *dir, unsigned long long max_bytes, rag_error *err)
{
	rag_ecache *c = calloc(1, sizeof *c);
	struct stat st;

	if (!c)
		return rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory"), NULL;
	if (!*dir) {
		free(c);
		return rag_error_set(err, RAG_EUSAGE, NULL, 0, "the embedding cache directory is \"\""),
		       NULL;
	}
	c->max = max_bytes ? max_bytes : RAG_ECACHE_DEFAULT_MAX;
	c->dirlen = strlen(dir);
	while (c->dirlen > 1 && dir[c->dirlen - 1] == '/')
		c->dirlen--;
	if (!(c->dir = strndup(dir, c->dirlen)) || !(c->path = malloc(c->dirlen + 128)))
		goto nomem;
	if (!(c->hasher = rag_hasher_new(err)))
		goto fail;
	if (make_dirs(c->dir) < 0 || stat(c->dir, &st) < 0) {
		rag_error_sys(err, errno, c->dir, "cannot make the embedding cache");
		goto fail;
	}
	if (!S_ISDIR(st.st_mode)) {
		rag_error_set(err, RAG_EIO, c->dir, 0, "the embedding cache is not a directory");
		goto fail;
	}
	return c;
nomem:
	rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
fail:
	rag_ecache_close(c);
	return NULL;
}

void rag_ecache_close(rag_ecache *c)
{
	if (!c)
		return;
	rag_hasher_free(c->hasher);
	free(c->dir);
	free(c->path);
	free(c);
}

unsigned long rag_ecache_evicted(const rag_ecache *c)
{
	return c->evicted;
}

int rag_ecache_key(rag_ecache *c, const char *url, const char *model, size_t want_dim,
		   const char *text, size_t n, char key[RAG_ECACHE_KEY])
{
	char dim[32];
	int dl = snprintf(dim, sizeof dim, "%zu", want_dim);

	if (rag_hasher_start(c->hasher) < 0 ||
	    rag_hasher_add(c->hasher, "ragkit embedding 1", 19) < 0 ||
	    rag_hasher_add(c->hasher, url, strlen(url) + 1) < 0 ||
	    rag_hasher_add(c->hasher, model, strlen(model) + 1) < 0 ||
	    rag_hasher_add(c->hasher, dim, (size_t)dl + 1) < 0 ||
	    rag_hasher_add(c->hasher, text, n) < 0 ||
	    rag_hasher_hex(c->hasher, key, RAG_ECACHE_KEY - 1) < 0)
		return -1;
	return 0;
}

/* c->path = DIR/ab/rest */
static const char *entry_path(rag_ecache *c, const char *key)
{
	sprintf(c->path, "%s/%.2s/%s", c->dir, key, key + 2);
	return c->path;
}

static int sub_index(const char *key)
{
	int v = 0;

	for (int i = 0; i < 2; i++) {
		char h = key[i];
		v = v * 16 + (h >= 'a' ? h - 'a' + 10 : h - '0');
	}
	return v & 255;
}

static int read_all(int fd, void *p, size_t n)
{
	char *q = p;

	while (n) {
		ssize_t k = read(fd, q, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		q += k;
		n -= (size_t)k;
	}
	return 0;
}

int rag_ecache_get(rag_ecache *c, const char key[RAG_ECACHE_KEY], float **vec, size_t *dim,
		   rag_error *err)
{
	const char *path = entry_path(c, key);
	unsigned char head[HEAD];
	unsigned char *data;
	struct stat st;
	size_t d;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	*vec = NULL;
	if (fd < 0)
		return 0;
	if (fstat(fd, &st) < 0 || st.st_size < HEAD || read_all(fd, head, HEAD) < 0 ||
	    memcmp(head, MAGIC, 8))
		goto bad;
	d = get32(head + 8);
	if (!d || d > (1u << 20) || (off_t)(HEAD + 4 * d) != st.st_size)
		goto bad;
	if (!(*vec = malloc(d * sizeof **vec))) {
		close(fd);
		return rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
	}
	/* the little-endian bytes land in the vector and are turned into floats in place */
	data = (unsigned char *)*vec;
	if (read_all(fd, data, 4 * d) < 0 || rag_crc32c(0, data, 4 * d) != get32(head + 12))
		goto bad;
	for (size_t i = 0; i < d; i++) {
		uint32_t u = get32(data + 4 * i);
		memcpy(&(*vec)[i], &u, 4);
	}
	if (st.st_mtime < time(NULL) - RENEW_AFTER)
		futimens(fd, NULL); /* recently used: last to go */
	close(fd);
	*dim = d;
	return 1;
bad:
	/* not a whole entry: drop it, and it will be written again */
	close(fd);
	free(*vec);
	*vec = NULL;
	unlink(path);
	return 0;
}

typedef struct ent {
	struct timespec mtime;
	off_t size;
	char name[72];
} ent;

static int by_age(const void *a, const void *b)
{
	const ent *x = a, *y = b;

	if (x->mtime.tv_sec != y->mtime.tv_sec)
		return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
	return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : x->mtime.tv_nsec > y->mtime.tv_nsec;
}

/* Keeps subdirectory sub within its share of the cap, sparing the entry keep_name. */
static void trim(rag_ecache *c, int sub, const char *keep_name)
{
	char *path = malloc(c->dirlen + 128);
	ent *v = NULL;
	size_t n = 0, cap = 0;
	unsigned long long total = 0, share = c->max / 256, keep = share / 10 * 9;
	time_t now = time(NULL);
	struct dirent *de;
	DIR *d;
	int dfd;

	if (!path)
		return;
	sprintf(path, "%s/%02x", c->dir, sub);
	if (!(d = opendir(path))) {
		free(path);
		return;
	}
	dfd = dirfd(d);
	while ((de = readdir(d))) {
		struct stat st;
		if (de->d_name[0] == '.' && (!de->d_name[1] || de->d_name[1] == '.'))
			continue;
		if (strlen(de->d_name) >= sizeof v->name || fstatat(dfd, de->d_name, &st, 0) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (de->d_name[0] == '.') {
			/* a temporary file a crashed writer left */
			if (st.st_mtime < now - STALE_TMP)
				unlinkat(dfd, de->d_name, 0);
			continue;
		}
		if (n == cap) {
			ent *nv = realloc(v, (cap = cap ? 2 * cap : 256) * sizeof *nv);
			if (!nv)
				goto out;
			v = nv;
		}
		if (!strcmp(de->d_name, keep_name)) {
			total += (unsigned long long)st.st_size;
			continue; /* just written: the last to go */
		}
		v[n].mtime = st.st_mtim;
		v[n].size = st.st_size;
		strcpy(v[n].name, de->d_name);
		total += (unsigned long long)st.st_size;
		n++;
	}
	if (total > share) {
		qsort(v, n, sizeof *v, by_age);
		for (size_t i = 0; i < n && total > keep; i++)
			if (unlinkat(dfd, v[i].name, 0) == 0 || errno == ENOENT) {
				total -= (unsigned long long)v[i].size;
				c->evicted++;
			}
	}
out:
	closedir(d);
	free(v);
	free(path);
}

int rag_ecache_put(rag_ecache *c, const char key[RAG_ECACHE_KEY], const float *vec, size_t dim,
		   rag_error *err)
{
	size_t size = HEAD + 4 * dim;
	unsigned char *buf = malloc(size);
	char *tmp = NULL;
	int fd = -1, made = 0, sub = sub_index(key);

	if (!buf || !(tmp = malloc(c->dirlen + 128))) {
		free(buf);
		return rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
	}
	memcpy(buf, MAGIC, 8);
	put32(buf + 8, (uint32_t)dim);
	for (size_t i = 0; i < dim; i++) {
		uint32_t u;
		memcpy(&u, &vec[i], 4);
		put32(buf + HEAD + 4 * i, u);
	}
	put32(buf + 12, rag_crc32c(0, buf + HEAD, 4 * dim));
	sprintf(tmp, "%s/%.2s", c->dir, key);
	if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
		goto sys;
	sprintf(tmp, "%s/%.2s/.tmp-%ld-%lu", c->dir, key, (long)getpid(), c->tmpno++);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
		goto sys;
	made = 1;
	for (size_t off = 0; off < size;) {
		ssize_t k = write(fd, buf + off, size - off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			goto sys;
		off += (size_t)k;
	}
	if (close(fd) < 0) {
		fd = -1;
		goto sys;
	}
	fd = -1;
	if (rename(tmp, entry_path(c, key)) < 0)
		goto sys;
	free(buf);
	free(tmp);
	/* a look at the subdirectory after 64 entries, or an eighth of its share */
	c->written_bytes[sub] += size;
	if (++c->written[sub] >= TRIM_EVERY || c->written_bytes[sub] >= c->max / 256 / 8) {
		c->written[sub] = 0;
		c->written_bytes[sub] = 0;
		trim(c, sub, key + 2);
	}
	return 0;
sys:
	rag_error_sys(err, errno, c->dir, "cannot write to the embedding cache");
	if (fd >= 0)
		close(fd);
	if (made)
		unlink(tmp);
	free(buf);
	free(tmp);
	return -1;
}
