/*
 * prompt.h - prompts for a chat model from the hits of a search.
 *
 * rag-prompt reads hit records (as rag-search writes them) and turns the
 * hits of each query into one prompt record: a system message, a user
 * message that holds the question and the numbered context, and the list
 * of sources the numbers stand for.  This module does that work: it
 * gathers the hits of one query (a group), merges the hits that overlap
 * in the same document into one passage, drops duplicates, numbers the
 * passages by rank, fits them into a token budget and renders them
 * through a template.  The program only reads, writes and reports.
 *
 * The token estimate: one token for every four bytes of UTF-8, rounded
 * up, counted over the system message and the user message together (the
 * whole rendered prompt).
 *
 * Nothing here prints or exits.
 */
#ifndef RAG_PROMPT_H
#define RAG_PROMPT_H

#include <stddef.h>
#include <jansson.h>

#include "buf.h"
#include "error.h"
#include "json.h"

/* The budget when none is given, in estimated tokens. */
#define RAG_PROMPT_DEFAULT_MAX_TOKENS 3000
/* The most hits one query may have: a group is held in memory whole. */
#define RAG_PROMPT_MAX_HITS 100000
/* The largest template, in bytes. */
#define RAG_TEMPLATE_MAX (1 << 20)

/* The built-in system message and user-message template. */
extern const char rag_prompt_default_system[];
extern const char rag_prompt_default_template[];

/* The estimated tokens of a text of bytes bytes: bytes / 4, rounded up. */
size_t rag_prompt_tokens(size_t bytes);

/* ---- templates ---- */

/*
 * A parsed template.  The syntax (rag-prompt(1) has it in full):
 *
 *   {{question}}  the query          {{qid}}  its id ("" when none)
 *   {{context}}   the numbered passages, "[n] where\ntext", blank-line apart
 *   {{#sources}}...{{/sources}}  repeated for each passage, in number
 *                 order, with {{n}}, {{text}}, {{id}}, {{doc}}, {{source}},
 *                 {{start}}, {{end}}, {{line_start}}, {{line_end}},
 *                 {{location}} and any other field of the passage's hit
 *                 ("" when it has none)
 *   \{{           a literal "{{"
 *
 * White space inside the braces is ignored.  A block tag alone on its
 * line takes the line with it.  One newline at the very end of the
 * template is dropped.
 */
typedef struct rag_template rag_template;

/*
 * Parses text[0..len).  source names the template in messages (a file
 * name).  Returns a new template (free it with rag_template_free), or
 * NULL with err set: RAG_EUSAGE with source and the line of the fault for
 * a bad template (an unknown placeholder, a block that is not closed,
 * invalid UTF-8, ...), RAG_ENOMEM.
 */
rag_template *rag_template_parse(const char *text, size_t len, const char *source, rag_error *err);
void rag_template_free(rag_template *t);

/*
 * Reads the file path (at most RAG_TEMPLATE_MAX bytes) and parses it as
 * rag_template_parse does.  NULL with err set: RAG_EUSAGE for a file that
 * cannot be read, is too large, or holds a bad template; RAG_ENOMEM.
 */
rag_template *rag_template_read(const char *path, rag_error *err);

/* ---- prompts ---- */

enum { RAG_PROMPT_NDJSON = 0, RAG_PROMPT_TEXT = 1 };

typedef struct rag_prompt_opts {
	size_t max_tokens;        /* the budget; 0 for none */
	const char *system;       /* the system message (valid UTF-8), or NULL for the default */
	const rag_template *tmpl; /* NULL for the default; borrowed, must outlive the prompt */
	int format;               /* RAG_PROMPT_NDJSON or RAG_PROMPT_TEXT */
} rag_prompt_opts;

/* The hits of one query on their way to a prompt. */
typedef struct rag_prompt rag_prompt;

/*
 * A new, empty prompt builder with the options o (copied; the strings and
 * the template are borrowed).  NULL with err set.
 */
rag_prompt *rag_prompt_new(const rag_prompt_opts *o, rag_error *err);
void rag_prompt_free(rag_prompt *p);

/*
 * Adds a hit to the group: rec is the record parsed from line[0..len),
 * and m where its members lie in line (as rag_reader_members gives
 * them); all three are copied or referenced, not kept borrowed.  source
 * and lineno place the hit in messages.
 *
 * Returns 1 when the hit was added; 0 when it belongs to another query
 * than the group's (nothing was added: build and reset the group, then add
 * the hit again); -1 with err set: RAG_EDATA for a hit that lacks
 * "query" or "text", or has a reserved field of the wrong type, or for a
 * group of more than RAG_PROMPT_MAX_HITS hits; RAG_ENOMEM.
 */
int rag_prompt_add(rag_prompt *p, const json_t *rec, const char *line, size_t len,
                   const struct rag_json_members *m, const char *source, long lineno,
                   rag_error *err);

/* The number of hits in the group. */
size_t rag_prompt_count(const rag_prompt *p);

/*
 * Appends the group's prompt to out (without a final newline): a JSON
 * object, or the text form, as the options say.  When the budget made the
 * best passage shorter (or left it out), warn gets the code RAG_EDATA
 * and a message naming the query and the passage, to show as a warning;
 * otherwise its code is RAG_OK.  Returns 0, or -1 with err set (RAG_EDATA
 * when the prompt is over the budget without any passage, RAG_ENOMEM);
 * out may then hold part of the prompt, for the caller to drop.
 */
int rag_prompt_build(rag_prompt *p, rag_buf *out, rag_error *warn, rag_error *err);

/* Empties the group, for the next query. */
void rag_prompt_reset(rag_prompt *p);

#endif
