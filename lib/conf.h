/*
 * conf.h - the ragkit configuration file.
 *
 * A text file of "key = value" lines.  "# ..." lines and blank lines are
 * ignored; a "[section]" line makes the keys after it "section.key".
 * Values are trimmed; a value in double or single quotes loses them.
 * A key given twice keeps its last value.  The file is
 * $RAGKIT_CONFIG when set, else $XDG_CONFIG_HOME/ragkit/config, else
 * ~/.config/ragkit/config; a missing file is an empty configuration.
 */
#ifndef RAG_CONF_H
#define RAG_CONF_H

#include <stddef.h>

#include "error.h"

typedef struct rag_config rag_config;

/* The default file, as above.  NULL with err set on a read or syntax error. */
rag_config *rag_config_load(rag_error *err);

/* A given file; a missing one is an error only when must_exist is set. */
rag_config *rag_config_load_file(const char *path, int must_exist, rag_error *err);

void rag_config_free(rag_config *c);

/* The file the configuration came from ("" when none). */
const char *rag_config_path(const rag_config *c);

/* The value of key, or NULL; *line (may be NULL) gets its line number. */
const char *rag_config_get(const rag_config *c, const char *key, long *line);

/* The entries, in file order (a repeated key appears once, at its last place). */
size_t rag_config_count(const rag_config *c);
const char *rag_config_key(const rag_config *c, size_t i);
const char *rag_config_value(const rag_config *c, size_t i);
long rag_config_line(const rag_config *c, size_t i);

#endif
