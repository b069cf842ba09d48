/*
 * loader.h - external converters that turn a file into text.
 *
 * A loader is a shell command; "{}" in it stands for the file's path
 * (passed as a positional parameter, so no quoting is needed and no name
 * can inject a command; do not put quotes around {}).  A command without
 * "{}" gets the path as its last argument.  The command writes the text
 * to standard output; its standard error goes to ours; standard input is
 * /dev/null.
 */
#ifndef RAG_LOADER_H
#define RAG_LOADER_H

#include "buf.h"
#include "error.h"

typedef struct rag_loader {
	char *ext; /* lower case, without the dot */
	char *cmd;
} rag_loader;

/*
 * Parses "EXT=COMMAND" into l (allocated; free with rag_loader_clear).
 * 0, or -1 with err set (RAG_EUSAGE).
 */
int rag_loader_parse(rag_loader *l, const char *spec, rag_error *err);
int rag_loader_set(rag_loader *l, const char *ext, const char *cmd, rag_error *err);
void rag_loader_clear(rag_loader *l);

/* The extension of path's last component, without the dot ("" when none). */
const char *rag_path_ext(const char *path);

/* The loader for path's extension among the n given (the last one wins), or NULL. */
const rag_loader *rag_loader_find(const rag_loader *v, size_t n, const char *path);

/*
 * Runs the loader on path and appends its output to out.  0, or -1 with
 * err set: the command could not be started, was killed, or exited with a
 * status other than 0 (the message names the command and the status; the
 * source is the path).
 */
int rag_loader_run(const rag_loader *l, const char *path, rag_buf *out, rag_error *err);

#endif
