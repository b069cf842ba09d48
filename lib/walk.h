/*
 * walk.h - the files a program's arguments name.
 *
 * A walk turns arguments (files, directories, "-") into the files to
 * read, in a stable order:
 *   - a file argument is taken as it is, whatever its type (a FIFO from
 *     process substitution works); globs do not apply to it;
 *   - a directory is walked recursively, entries sorted by name (bytewise),
 *     so output order does not depend on the file system; symbolic links
 *     are followed; a link back to a directory being walked (a loop) is
 *     reported as a warning and not followed;
 *   - inside directories, names starting with "." are skipped unless
 *     hidden is set, and only regular files are taken;
 *   - --exclude globs drop files and whole directories, --include globs
 *     (when any are given) keep only the files that match one.  A glob
 *     without "/" matches the file name; one with "/" matches the path
 *     relative to the directory argument (fnmatch with FNM_PATHNAME, so
 *     "*" does not cross "/"; "**" is not special).
 * Paths are the argument joined with the relative path by one "/".
 */
#ifndef RAG_WALK_H
#define RAG_WALK_H

#include <stddef.h>

#include "error.h"

typedef struct rag_walk rag_walk;

typedef struct rag_walk_opts {
	const char *const *include; /* NULL-terminated, or NULL */
	const char *const *exclude; /* NULL-terminated, or NULL */
	int hidden;                 /* walk names starting with "." too */
} rag_walk_opts;

/* The patterns are borrowed and must outlive the walk.  NULL: no memory. */
rag_walk *rag_walk_new(const rag_walk_opts *o);
void rag_walk_free(rag_walk *w);

/* Queues an argument (copied).  0, or -1 when memory runs out. */
int rag_walk_add(rag_walk *w, const char *path);

/*
 * Reads further arguments from a file of NUL-separated names ("-" for
 * standard input), queued after those added so far and read as they are
 * needed.  0, or -1 with err set (cannot open).
 */
int rag_walk_add_list(rag_walk *w, const char *listfile, rag_error *err);

enum {
	RAG_WALK_END = 0,    /* nothing more */
	RAG_WALK_FILE = 1,   /* *path is a file to read */
	RAG_WALK_WARN = 2,   /* err holds a warning (a loop not followed); go on */
	RAG_WALK_ERROR = -1  /* err holds an error about one argument or entry
				(cannot stat or open, empty name in a list);
				the walk can go on with the next one */
};

/*
 * The next file.  *path is valid until the next call.  Returns one of the
 * RAG_WALK_ values.  *from_dir tells whether the file was found inside a
 * directory (1) or named as an argument (0).
 */
int rag_walk_next(rag_walk *w, const char **path, int *from_dir, rag_error *err);

#endif
