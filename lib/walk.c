/* walk.c - the files a program's arguments name; see walk.h. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "walk.h"

/*
 * The walk keeps a queue of arguments still to look at and a stack of the
 * directories being walked.  Each level of the stack holds the names of
 * its directory, read in full and sorted, so that no directory stays open
 * between calls: memory is bounded by the depth times the widest
 * directory, and a deep tree does not use up file descriptors.
 */

/* An internal result of one step: nothing to report yet, go on. */
#define MORE 3

/* One queued argument, or a list file that yields arguments. */
struct walk_item {
	struct walk_item *next;
	char *arg;      /* owned; NULL for a list file */
	FILE *fp;       /* the list file; closed at the end unless stdin */
	char *name;     /* owned: the list's name for messages */
	long entries;   /* names read from the list so far */
};

/* One directory being walked. */
struct walk_level {
	char *pool;     /* owned: each name preceded by its d_type byte */
	char **names;   /* owned: pointers into pool, sorted bytewise */
	size_t count;
	size_t next;    /* the index of the next name to look at */
	size_t prefix;  /* path length up to and with the "/" after the dir */
	dev_t dev;      /* the directory itself, for loop detection */
	ino_t ino;
};

struct rag_walk {
	const char *const *include; /* borrowed */
	const char *const *exclude; /* borrowed */
	int hidden;
	struct walk_item *head, *tail;
	struct walk_level *levels;
	size_t depth, levels_cap;
	char *path;     /* owned: the current path, NUL-terminated */
	size_t path_cap;
	size_t rel;     /* where the part relative to the argument starts */
	char *line;     /* owned: the getdelim buffer for list files */
	size_t line_cap;
};

rag_walk *rag_walk_new(const rag_walk_opts *o)
{
	rag_walk *w = calloc(1, sizeof *w);

	if (!w)
		return NULL;
	if (o) {
		w->include = o->include;
		w->exclude = o->exclude;
		w->hidden = o->hidden;
	}
	return w;
}

static void item_free(struct walk_item *it)
{
	if (!it)
		return;
	if (it->fp && it->fp != stdin)
		fclose(it->fp);
	free(it->arg);
	free(it->name);
	free(it);
}

static void level_clear(struct walk_level *lv)
{
	free(lv->names);
	free(lv->pool);
	lv->names = NULL;
	lv->pool = NULL;
	lv->count = 0;
	lv->next = 0;
}

void rag_walk_free(rag_walk *w)
{
	struct walk_item *it, *next;

	if (!w)
		return;
	for (it = w->head; it; it = next) {
		next = it->next;
		item_free(it);
	}
	while (w->depth > 0)
		level_clear(&w->levels[--w->depth]);
	free(w->levels);
	free(w->path);
	free(w->line);
	free(w);
}

static void enqueue(rag_walk *w, struct walk_item *it)
{
	if (w->tail)
		w->tail->next = it;
	else
		w->head = it;
	w->tail = it;
}

/* Unlinks the head of the queue and frees it. */
static void dequeue(rag_walk *w)
{
	struct walk_item *it = w->head;

	w->head = it->next;
	if (!w->head)
		w->tail = NULL;
	item_free(it);
}

int rag_walk_add(rag_walk *w, const char *path)
{
	struct walk_item *it = calloc(1, sizeof *it);

	if (!it)
		return -1;
	it->arg = strdup(path);
	if (!it->arg) {
		free(it);
		return -1;
	}
	enqueue(w, it);
	return 0;
}

int rag_walk_add_list(rag_walk *w, const char *listfile, rag_error *err)
{
	struct walk_item *it = calloc(1, sizeof *it);
	int stdin_list = strcmp(listfile, "-") == 0;

	if (!it)
		return rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
	it->name = strdup(stdin_list ? "<stdin>" : listfile);
	if (!it->name) {
		free(it);
		return rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
	}
	it->fp = stdin_list ? stdin : fopen(listfile, "re");
	if (!it->fp) {
		int e = errno;

		item_free(it);
		return rag_error_sys(err, e, listfile, "cannot open");
	}
	enqueue(w, it);
	return 0;
}

/* Makes room for a path of len bytes and its NUL.  0, or -1. */
static int path_reserve(rag_walk *w, size_t len)
{
	size_t cap;
	char *p;

	if (len < w->path_cap)
		return 0;
	cap = w->path_cap ? w->path_cap : 256;
	while (cap <= len)
		cap *= 2;
	p = realloc(w->path, cap);
	if (!p)
		return -1;
	w->path = p;
	w->path_cap = cap;
	return 0;
}

static int path_set(rag_walk *w, const char *s, size_t len)
{
	if (path_reserve(w, len) < 0)
		return -1;
	memcpy(w->path, s, len);
	w->path[len] = '\0';
	return 0;
}

/*
 * Takes the next argument from the queue into w->path.  1 when there is
 * one, 0 at the end, -1 with err set (a bad list entry or a read error).
 */
static int next_arg(rag_walk *w, rag_error *err)
{
	struct walk_item *it;
	ssize_t n;
	size_t len;

	while ((it = w->head)) {
		if (it->arg) {
			if (path_set(w, it->arg, strlen(it->arg)) < 0)
				return rag_error_set(err, RAG_ENOMEM, NULL, 0,
						     "out of memory");
			dequeue(w);
			return 1;
		}
		errno = 0;
		n = getdelim(&w->line, &w->line_cap, '\0', it->fp);
		if (n < 0) {
			int e = errno ? errno : EIO;

			if (feof(it->fp) && !ferror(it->fp)) {
				dequeue(w);
				continue;
			}
			/* Stop reading a list that fails: it would fail again. */
			rag_error_sys(err, e, it->name, "cannot read");
			dequeue(w);
			return -1;
		}
		it->entries++;
		len = (size_t)n;
		if (len > 0 && w->line[len - 1] == '\0')
			len--;
		if (len == 0)
			return rag_error_set(err, RAG_EDATA, it->name,
					     it->entries,
					     "invalid zero-length file name");
		if (it->fp == stdin && len == 1 && w->line[0] == '-')
			return rag_error_set(err, RAG_EDATA, it->name, it->entries,
					     "a list read from standard input cannot name \"-\"");
		if (path_set(w, w->line, len) < 0)
			return rag_error_set(err, RAG_ENOMEM, NULL, 0,
					     "out of memory");
		return 1;
	}
	return 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Reads the names in the directory w->path (len bytes) into lv, sorted,
 * without "." and "..", and without hidden names unless asked for.  The
 * directory is closed before returning.  0, or -1 with err set.
 */
static int read_dir(rag_walk *w, struct walk_level *lv, rag_error *err)
{
	DIR *d;
	struct dirent *de;
	char *pool = NULL, *p, **names = NULL;
	size_t *offs = NULL, *o;
	size_t used = 0, pool_cap = 0, count = 0, offs_cap = 0, i, nlen;
	int e;

	d = opendir(w->path);
	if (!d)
		return rag_error_sys(err, errno, w->path, "%s", "");
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de) {
			if (errno) {
				e = errno;
				goto fail;
			}
			break;
		}
		if (de->d_name[0] == '.' &&
		    (!w->hidden || de->d_name[1] == '\0' ||
		     (de->d_name[1] == '.' && de->d_name[2] == '\0')))
			continue;
		nlen = strlen(de->d_name);
		if (!pool || pool_cap - used < nlen + 2) {
			size_t cap = pool_cap ? pool_cap : 1024;

			while (cap - used < nlen + 2)
				cap *= 2;
			p = realloc(pool, cap);
			if (!p) {
				e = ENOMEM;
				goto fail;
			}
			pool = p;
			pool_cap = cap;
		}
		if (!offs || count == offs_cap) {
			size_t cap = offs_cap ? offs_cap * 2 : 64;

			o = realloc(offs, cap * sizeof *offs);
			if (!o) {
				e = ENOMEM;
				goto fail;
			}
			offs = o;
			offs_cap = cap;
		}
#ifdef DT_REG
		pool[used] = (char)de->d_type;
#else
		pool[used] = 0;
#endif
		memcpy(pool + used + 1, de->d_name, nlen + 1);
		offs[count++] = used + 1;
		used += nlen + 2;
	}
	closedir(d);
	d = NULL;
	if (count > 0) {
		names = malloc(count * sizeof *names);
		if (!names) {
			e = ENOMEM;
			goto fail;
		}
		for (i = 0; i < count; i++)
			names[i] = pool + offs[i];
		qsort(names, count, sizeof *names, name_cmp);
	}
	free(offs);
	lv->names = names;
	lv->pool = pool;
	lv->count = count;
	lv->next = 0;
	return 0;

fail:
	if (d)
		closedir(d);
	free(pool);
	free(offs);
	return rag_error_sys(err, e, w->path, "%s", "");
}

/*
 * Pushes the directory w->path (len bytes, st its status) onto the stack.
 * 0, or -1 with err set (cannot open or read it).
 */
static int push_dir(rag_walk *w, size_t len, const struct stat *st,
		    rag_error *err)
{
	struct walk_level *lv;

	if (w->depth == w->levels_cap) {
		size_t cap = w->levels_cap ? w->levels_cap * 2 : 16;

		lv = realloc(w->levels, cap * sizeof *lv);
		if (!lv)
			return rag_error_sys(err, ENOMEM, w->path, "%s", "");
		w->levels = lv;
		w->levels_cap = cap;
	}
	lv = &w->levels[w->depth];
	memset(lv, 0, sizeof *lv);
	if (read_dir(w, lv, err) < 0)
		return -1;
	/* Join with one "/", unless the path ends with one ("/", "docs/"). */
	if (len > 0 && w->path[len - 1] == '/') {
		lv->prefix = len;
	} else {
		if (path_reserve(w, len + 1) < 0) {
			level_clear(lv);
			return rag_error_sys(err, ENOMEM, w->path, "%s", "");
		}
		w->path[len] = '/';
		w->path[len + 1] = '\0';
		lv->prefix = len + 1;
	}
	lv->dev = st->st_dev;
	lv->ino = st->st_ino;
	w->depth++;
	return 0;
}

/* Does one of the NULL-terminated patterns match the entry? */
static int glob_match(const char *const *pats, const char *name,
		      const char *rel)
{
	for (; pats && *pats; pats++) {
		if (strchr(*pats, '/')) {
			if (fnmatch(*pats, rel, FNM_PATHNAME) == 0)
				return 1;
		} else if (fnmatch(*pats, name, 0) == 0) {
			return 1;
		}
	}
	return 0;
}

/* Is the directory (dev, ino) one of those being walked? */
static int is_ancestor(const rag_walk *w, dev_t dev, ino_t ino)
{
	size_t i;

	for (i = 0; i < w->depth; i++)
		if (w->levels[i].dev == dev && w->levels[i].ino == ino)
			return 1;
	return 0;
}

/* Looks at the next entry of the innermost directory. */
static int step_dir(rag_walk *w, int *from_dir, rag_error *err)
{
	struct walk_level *lv = &w->levels[w->depth - 1];
	struct stat st;
	const char *name, *rel;
	size_t nlen, prefix;
	int regular = 0;

	if (lv->next == lv->count) {
		level_clear(lv);
		w->depth--;
		return MORE;
	}
	name = lv->names[lv->next++];
	nlen = strlen(name);
	prefix = lv->prefix;
	if (path_reserve(w, prefix + nlen) < 0)
		return rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
	memcpy(w->path + prefix, name, nlen + 1);
	rel = w->path + w->rel;
	if (glob_match(w->exclude, name, rel))
		return MORE;
#ifdef DT_REG
	/* A plain file (not a link): no need to stat it. */
	regular = (unsigned char)name[-1] == DT_REG;
#endif
	if (!regular) {
		if (stat(w->path, &st) < 0)
			return rag_error_sys(err, errno, w->path, "%s", "");
		if (S_ISDIR(st.st_mode)) {
			if (is_ancestor(w, st.st_dev, st.st_ino)) {
				rag_error_set(err, RAG_EDATA, w->path, 0,
					      "symbolic link loop, not followed");
				return RAG_WALK_WARN;
			}
			if (push_dir(w, prefix + nlen, &st, err) < 0)
				return RAG_WALK_ERROR;
			return MORE;
		}
		if (!S_ISREG(st.st_mode))
			return MORE;
	}
	if (w->include && *w->include && !glob_match(w->include, name, rel))
		return MORE;
	*from_dir = 1;
	return RAG_WALK_FILE;
}

/* Takes the next argument: a file to return, or a directory to walk. */
static int step_arg(rag_walk *w, int *from_dir, rag_error *err)
{
	struct stat st;
	size_t len;
	int r;

	r = next_arg(w, err);
	if (r <= 0)
		return r == 0 ? RAG_WALK_END : RAG_WALK_ERROR;
	len = strlen(w->path);
	if (len == 0)
		return rag_error_set(err, RAG_EDATA, NULL, 0,
				     "invalid zero-length file name");
	*from_dir = 0;
	if (strcmp(w->path, "-") == 0)
		return RAG_WALK_FILE;
	if (stat(w->path, &st) < 0)
		return rag_error_sys(err, errno, w->path, "%s", "");
	if (!S_ISDIR(st.st_mode))
		return RAG_WALK_FILE;
	if (push_dir(w, len, &st, err) < 0)
		return RAG_WALK_ERROR;
	w->rel = w->levels[0].prefix;
	return MORE;
}

int rag_walk_next(rag_walk *w, const char **path, int *from_dir,
		  rag_error *err)
{
	int dummy, r;

	if (!from_dir)
		from_dir = &dummy;
	*path = NULL;
	*from_dir = 0;
	do {
		if (w->depth > 0)
			r = step_dir(w, from_dir, err);
		else
			r = step_arg(w, from_dir, err);
	} while (r == MORE);
	if (r == RAG_WALK_FILE)
		*path = w->path;
	return r;
}
