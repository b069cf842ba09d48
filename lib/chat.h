/*
 * chat.h - the wire formats of chat models, for rag-ask.
 *
 * Two providers:
 *   openai  POST {base}/chat/completions; streamed as server-sent events
 *           ("data: {chunk}" events, the last "data: [DONE]"), usage asked
 *           for in the stream (stream_options.include_usage);
 *   ollama  POST {host}/api/chat; streamed as NDJSON lines, the last with
 *           "done": true and the token counts.
 * This module builds request bodies and reads answers, streamed or whole;
 * it does no I/O (http.h moves the bytes).  A reader accumulates the
 * answer in a rag_chat_answer and hands each piece of text to a callback
 * as it arrives.
 */
#ifndef RAG_CHAT_H
#define RAG_CHAT_H

#include <jansson.h>
#include <stddef.h>

#include "buf.h"
#include "error.h"

enum rag_chat_provider { RAG_CHAT_OPENAI = 1, RAG_CHAT_OLLAMA = 2 };

/* What a request asks besides the messages; unset fields are left out of it. */
typedef struct rag_chat_opts {
	const char *model; /* the model's name at the provider (no "provider:") */
	int stream;
	int has_temperature;
	double temperature;
	long max_tokens; /* of the completion; 0 for the provider's default */
	int has_seed;
	long long seed;
	int json; /* a structured (JSON object) answer */
} rag_chat_opts;

/*
 * Appends the request body for provider p to body: messages is a JSON
 * array of {"role", "content"} objects (borrowed).  0, or -1 with err set.
 */
int rag_chat_request(int p, const json_t *messages, const rag_chat_opts *o, rag_buf *body,
                     rag_error *err);

/* The answer as it accumulates. */
typedef struct rag_chat_answer {
	rag_buf text;
	char finish_reason[32];                /* "stop", "length", ...; "" until known */
	long prompt_tokens, completion_tokens; /* -1 until known */
	int done; /* the stream's end was seen ([DONE], or "done": true) */
} rag_chat_answer;

void rag_chat_answer_init(rag_chat_answer *a);
void rag_chat_answer_free(rag_chat_answer *a);

/* Called with each piece of the answer's text as it arrives; non-zero stops. */
typedef int (*rag_chat_piece_fn)(const char *text, size_t n, void *arg);

/*
 * Server-sent events: bytes in, events out.  Lines end with LF, CR LF or
 * CR; "data:" lines add to the event's data (joined with LF), "event:"
 * names it, ":" lines are comments, a blank line ends the event.
 */
typedef struct rag_sse {
	rag_buf line, data, event;
	int cr;       /* the last byte was a CR (an LF after it is the same line end) */
	int has_data; /* a data line came since the last event */
} rag_sse;

void rag_sse_init(rag_sse *s);
void rag_sse_free(rag_sse *s);

/* Called with each event: its name ("" for none) and data.  Non-zero stops the feed. */
typedef int (*rag_sse_event_fn)(const char *event, const char *data, size_t n, void *arg);

/*
 * Feeds bytes p[0..n).  Returns 0, the callback's non-zero value, or -1
 * with err set (a line past RAG_SSE_LINE_MAX, out of memory).
 */
#define RAG_SSE_LINE_MAX ((size_t)16 << 20)
int rag_sse_feed(rag_sse *s, const char *p, size_t n, rag_sse_event_fn fn, void *arg,
                 rag_error *err);

/* Whether bytes of an unfinished line or event are left (a stream cut short). */
int rag_sse_pending(const rag_sse *s);

/*
 * One streamed piece: for openai the data of one event (a chunk, an
 * error object, or "[DONE]"), for ollama one NDJSON line.  The text it
 * carries is added to a and handed to fn (may be NULL).  0; 1 when fn
 * asked to stop; -1 with err set: RAG_EIO for an error the server sent
 * in the stream (its message quoted, as rag_quote quotes), RAG_EDATA for
 * a piece that is not what the format says.
 */
int rag_chat_openai_event(rag_chat_answer *a, const char *data, size_t n, rag_chat_piece_fn fn,
                          void *arg, rag_error *err);
int rag_chat_ollama_line(rag_chat_answer *a, const char *line, size_t n, rag_chat_piece_fn fn,
                         void *arg, rag_error *err);

/* A whole (not streamed) answer body.  0, or -1 with err set as above. */
int rag_chat_openai_body(rag_chat_answer *a, const char *body, size_t n, rag_error *err);
int rag_chat_ollama_body(rag_chat_answer *a, const char *body, size_t n, rag_error *err);

/*
 * The message of an error body (a non-2xx answer): {"error": {"message":
 * ...}} or {"error": "..."}, else the body's start; written into out
 * (size >= 1 bytes, NUL-terminated), on one line without control
 * characters.
 */
const char *rag_chat_error_message(const char *body, size_t n, char *out, size_t size);

/*
 * The sources an answer cites: the numbers of its markers, "[n]" or
 * "[n, m, ...]" (at most 9 digits each), in the order they first appear,
 * each once; at most max of them are written to out.  Returns how many
 * were written.
 */
size_t rag_chat_citations(const char *text, size_t n, long *out, size_t max);

#endif
