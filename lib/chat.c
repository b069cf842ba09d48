/*
 * chat.c - the wire formats of chat models: see chat.h.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "chat.h"
#include "json.h"

/* ---- requests ---- */

int rag_chat_request(int p, const json_t *messages, const rag_chat_opts *o, rag_buf *body,
                     rag_error *err)
{
	size_t start = body->len;
	int ok = rag_buf_adds(body, "{\"model\":") == 0 &&
	         rag_json_add_string(body, o->model, strlen(o->model)) == 0 &&
	         rag_buf_adds(body, ",\"messages\":") == 0 &&
	         rag_json_dump(body, messages, 0) == 0 &&
	         rag_buf_adds(body, o->stream ? ",\"stream\":true" : ",\"stream\":false") == 0;

	if (ok && p == RAG_CHAT_OPENAI) {
		if (o->stream)
			ok =
			    rag_buf_adds(body, ",\"stream_options\":{\"include_usage\":true}") == 0;
		if (ok && o->has_temperature)
			ok = rag_buf_adds(body, ",\"temperature\":") == 0 &&
			     rag_json_add_real(body, o->temperature, 0) == 0;
		if (ok && o->max_tokens > 0)
			ok = rag_buf_addf(body, ",\"max_tokens\":%ld", o->max_tokens) == 0;
		if (ok && o->has_seed)
			ok = rag_buf_addf(body, ",\"seed\":%lld", o->seed) == 0;
		if (ok && o->json)
			ok = rag_buf_adds(body,
			                  ",\"response_format\":{\"type\":\"json_object\"}") == 0;
	} else if (ok) {
		int any = 0;
		if (o->has_temperature || o->max_tokens > 0 || o->has_seed)
			ok = rag_buf_adds(body, ",\"options\":{") == 0;
		if (ok && o->has_temperature) {
			ok = rag_buf_adds(body, "\"temperature\":") == 0 &&
			     rag_json_add_real(body, o->temperature, 0) == 0;
			any = 1;
		}
		if (ok && o->max_tokens > 0) {
			ok = rag_buf_addf(body, "%s\"num_predict\":%ld", any ? "," : "",
			                  o->max_tokens) == 0;
			any = 1;
		}
		if (ok && o->has_seed)
			ok = rag_buf_addf(body, "%s\"seed\":%lld", any ? "," : "", o->seed) == 0;
		if (ok && (o->has_temperature || o->max_tokens > 0 || o->has_seed))
			ok = rag_buf_addc(body, '}') == 0;
		if (ok && o->json)
			ok = rag_buf_adds(body, ",\"format\":\"json\"") == 0;
	}
	if (ok && rag_buf_addc(body, '}') == 0)
		return 0;
	rag_buf_truncate(body, start);
	return rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
}

/* ---- the answer ---- */

void rag_chat_answer_init(rag_chat_answer *a)
{
	rag_buf_init(&a->text, 0);
	a->finish_reason[0] = '\0';
	a->prompt_tokens = a->completion_tokens = -1;
	a->done = 0;
}

void rag_chat_answer_free(rag_chat_answer *a)
{
	rag_buf_free(&a->text);
}

/* Adds text to the answer and hands it on.  0, 1 when fn says stop, -1. */
static int piece(rag_chat_answer *a, const char *t, size_t n, rag_chat_piece_fn fn, void *arg,
                 rag_error *err)
{
	if (!n)
		return 0;
	if (rag_buf_add(&a->text, t, n) < 0)
		return rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
	return fn && fn(t, n, arg) ? 1 : 0;
}

static void set_reason(rag_chat_answer *a, const json_t *r)
{
	if (json_is_string(r))
		snprintf(a->finish_reason, sizeof a->finish_reason, "%s", json_string_value(r));
}

static long count(const json_t *v)
{
	return json_is_integer(v) && json_integer_value(v) >= 0 ? (long)json_integer_value(v) : -1;
}

/* The message of an "error" member: a string, or an object's "message". */
static const char *error_text(const json_t *e)
{
	const json_t *m;

	if (json_is_string(e))
		return json_string_value(e);
	m = json_object_get(e, "message");
	return json_is_string(m) ? json_string_value(m) : "(no message)";
}

/* A piece that is a JSON object, or NULL with err set. */
static json_t *object(const char *p, size_t n, const char *what, rag_error *err)
{
	rag_error e;
	json_t *v = rag_json_parse(p, n, &e);

	if (!v || !json_is_object(v)) {
		json_decref(v);
		if (!v && e.code == RAG_ENOMEM)
			rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
		else
			rag_error_set(err, RAG_EDATA, NULL, 0,
			              "the server sent %s that is not a JSON object", what);
		return NULL;
	}
	return v;
}

/* One chat.completion(.chunk) object: delta (streamed) or message (whole). */
static int openai_object(rag_chat_answer *a, const json_t *v, int streamed, rag_chat_piece_fn fn,
                         void *arg, rag_error *err)
{
	const json_t *e = json_object_get(v, "error"), *ch, *c0, *m, *u;
	int r = 0;

	if (e)
		return rag_error_set(err, RAG_EIO, NULL, 0, "the server reported an error: %s",
		                     rag_quote(0, error_text(e)));
	ch = json_object_get(v, "choices");
	if (ch && !json_is_array(ch))
		return rag_error_set(err, RAG_EDATA, NULL, 0, "\"choices\" is not an array");
	c0 = json_array_get(ch, 0);
	if (c0) {
		m = json_object_get(c0, streamed ? "delta" : "message");
		m = json_object_get(m, "content");
		if (m && !json_is_null(m) && !json_is_string(m))
			return rag_error_set(err, RAG_EDATA, NULL, 0,
			                     "the content is not a string");
		if (json_is_string(m))
			r = piece(a, json_string_value(m), json_string_length(m), fn, arg, err);
		set_reason(a, json_object_get(c0, "finish_reason"));
	} else if (!streamed) {
		return rag_error_set(err, RAG_EDATA, NULL, 0, "the answer has no choices");
	}
	u = json_object_get(v, "usage");
	if (json_is_object(u)) {
		a->prompt_tokens = count(json_object_get(u, "prompt_tokens"));
		a->completion_tokens = count(json_object_get(u, "completion_tokens"));
	}
	return r;
}

int rag_chat_openai_event(rag_chat_answer *a, const char *data, size_t n, rag_chat_piece_fn fn,
                          void *arg, rag_error *err)
{
	json_t *v;
	int r;

	if (n == 6 && memcmp(data, "[DONE]", 6) == 0) {
		a->done = 1;
		return 0;
	}
	if (!(v = object(data, n, "an event", err)))
		return -1;
	r = openai_object(a, v, 1, fn, arg, err);
	json_decref(v);
	return r;
}

int rag_chat_openai_body(rag_chat_answer *a, const char *body, size_t n, rag_error *err)
{
	json_t *v = object(body, n, "an answer", err);
	int r;

	if (!v)
		return -1;
	r = openai_object(a, v, 0, NULL, NULL, err);
	json_decref(v);
	if (r == 0)
		a->done = 1;
	return r;
}

/* One /api/chat object, streamed or whole. */
static int ollama_object(rag_chat_answer *a, const json_t *v, rag_chat_piece_fn fn, void *arg,
                         rag_error *err)
{
	const json_t *e = json_object_get(v, "error"), *m;
	int r = 0;

	if (e)
		return rag_error_set(err, RAG_EIO, NULL, 0, "the server reported an error: %s",
		                     rag_quote(0, error_text(e)));
	m = json_object_get(json_object_get(v, "message"), "content");
	if (m && !json_is_string(m))
		return rag_error_set(err, RAG_EDATA, NULL, 0, "the content is not a string");
	if (m)
		r = piece(a, json_string_value(m), json_string_length(m), fn, arg, err);
	if (r == 0 && json_is_true(json_object_get(v, "done"))) {
		a->done = 1;
		set_reason(a, json_object_get(v, "done_reason"));
		if (!a->finish_reason[0])
			snprintf(a->finish_reason, sizeof a->finish_reason, "stop");
		a->prompt_tokens = count(json_object_get(v, "prompt_eval_count"));
		a->completion_tokens = count(json_object_get(v, "eval_count"));
	}
	return r;
}

int rag_chat_ollama_line(rag_chat_answer *a, const char *line, size_t n, rag_chat_piece_fn fn,
                         void *arg, rag_error *err)
{
	json_t *v;
	int r;

	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	if (!n)
		return 0;
	if (!(v = object(line, n, "a line", err)))
		return -1;
	r = ollama_object(a, v, fn, arg, err);
	json_decref(v);
	return r;
}

int rag_chat_ollama_body(rag_chat_answer *a, const char *body, size_t n, rag_error *err)
{
	json_t *v = object(body, n, "an answer", err);
	int r;

	if (!v)
		return -1;
	r = ollama_object(a, v, NULL, NULL, err);
	json_decref(v);
	if (r == 0 && !a->done)
		return rag_error_set(err, RAG_EDATA, NULL, 0, "the answer is not marked done");
	return r;
}

const char *rag_chat_error_message(const char *body, size_t n, char *out, size_t size)
{
	rag_error e;
	json_t *v = rag_json_parse(body, n, &e);
	const json_t *x = json_object_get(v, "error");

	if (x)
		snprintf(out, size, "%s", error_text(x));
	else
		snprintf(out, size, "%.*s", (int)(n < 200 ? n : 200), body);
	json_decref(v);
	/* one line without control characters, whatever the server put in it */
	for (char *c = out; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = ' ';
	return out;
}

/* ---- server-sent events ---- */

void rag_sse_init(rag_sse *s)
{
	rag_buf_init(&s->line, RAG_SSE_LINE_MAX);
	rag_buf_init(&s->data, 0);
	rag_buf_init(&s->event, 0);
	s->cr = 0;
	s->has_data = 0;
}

void rag_sse_free(rag_sse *s)
{
	rag_buf_free(&s->line);
	rag_buf_free(&s->data);
	rag_buf_free(&s->event);
}

int rag_sse_pending(const rag_sse *s)
{
	return s->line.len > 0 || s->has_data;
}

/* The line in s->line is complete.  0, the callback's value, or -1. */
static int sse_line(rag_sse *s, rag_sse_event_fn fn, void *arg, rag_error *err)
{
	const char *l = s->line.data ? s->line.data : "";
	size_t n = s->line.len, k;
	int r = 0;

	if (n == 0) { /* the event ends */
		if (s->has_data) {
			if (rag_buf_addc(&s->data, '\0') < 0 || rag_buf_addc(&s->event, '\0') < 0)
				return rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
			r = fn(s->event.data, s->data.data, s->data.len - 1, arg);
		}
		rag_buf_truncate(&s->data, 0);
		rag_buf_truncate(&s->event, 0);
		s->has_data = 0;
		return r;
	}
	if (l[0] == ':')
		return 0; /* a comment */
	for (k = 0; k < n && l[k] != ':'; k++)
		;
	const char *v = l + (k < n ? k + 1 : n);
	size_t vn = k < n ? n - k - 1 : 0;
	if (vn && v[0] == ' ') {
		v++;
		vn--;
	}
	if (k == 4 && memcmp(l, "data", 4) == 0) {
		if ((s->has_data && rag_buf_addc(&s->data, '\n') < 0) ||
		    rag_buf_add(&s->data, v, vn) < 0)
			return rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
		s->has_data = 1;
	} else if (k == 5 && memcmp(l, "event", 5) == 0) {
		rag_buf_truncate(&s->event, 0);
		if (rag_buf_add(&s->event, v, vn) < 0)
			return rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
	}
	return 0; /* id:, retry: and unknown fields are of no use here */
}

int rag_sse_feed(rag_sse *s, const char *p, size_t n, rag_sse_event_fn fn, void *arg,
                 rag_error *err)
{
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		int r;
		if (c == '\n' && s->cr) { /* the LF of a CR LF */
			s->cr = 0;
			continue;
		}
		s->cr = c == '\r';
		if (c == '\n' || c == '\r') {
			r = sse_line(s, fn, arg, err);
			rag_buf_truncate(&s->line, 0);
			if (r)
				return r;
			continue;
		}
		if (rag_buf_addc(&s->line, c) < 0)
			return rag_error_set(err, RAG_EDATA, NULL, 0,
			                     "the server sent an event line longer than %zu bytes",
			                     RAG_SSE_LINE_MAX);
	}
	return 0;
}

/* ---- citations ---- */

/*
 * The end of the marker that starts at text[i] (a "["): just past its
 * "]", or 0 when it is no marker.
 */
static size_t marker_end(const char *text, size_t i, size_t n)
{
	for (size_t j = i + 1;;) {
		size_t d = 0;
		while (j < n && text[j] >= '0' && text[j] <= '9' && d <= 9)
			j++, d++;
		if (d == 0 || d > 9)
			return 0;
		if (j < n && text[j] == ']')
			return j + 1;
		if (j >= n || text[j] != ',')
			return 0;
		j += j + 1 < n && text[j + 1] == ' ' ? 2 : 1;
	}
}

size_t rag_chat_citations(const char *text, size_t n, long *out, size_t max)
{
	size_t i = 0, count = 0, end;

	while (i < n) {
		if (text[i] != '[' || !(end = marker_end(text, i, n))) {
			i++;
			continue;
		}
		/* its numbers, each kept the first time it is cited */
		for (size_t j = i + 1; j < end;) {
			long v = 0;
			size_t k;
			for (; text[j] >= '0' && text[j] <= '9'; j++)
				v = v * 10 + (text[j] - '0');
			for (k = 0; k < count && out[k] != v; k++)
				;
			if (k == count && count < max)
				out[count++] = v;
			while (j < end && (text[j] < '0' || text[j] > '9'))
				j++;
		}
		i = end;
	}
	return count;
}
