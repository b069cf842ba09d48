/*
 * http.h - the HTTP client every ragkit program that talks to a model
 * server uses: several requests in flight at once, retries, timeouts.
 *
 * A rag_http runs POST requests on libcurl's multi interface, at most
 * `jobs` at a time, each on its own connection from libcurl's pool (kept
 * alive between requests).  The caller queues requests and collects them
 * as they finish, in whatever order they finish.
 *
 * Retries.  A request is tried again, after a delay, when the attempt
 * failed to connect, timed out, lost its connection, or got status 408,
 * 429 or 5xx; up to `retries` more attempts.  The delay doubles from
 * backoff_ms with each attempt, up to backoff_max_ms, and is drawn at
 * random from its upper half (jitter), so that many clients that failed
 * together do not come back together.  A Retry-After header (seconds or
 * an HTTP date) raises the delay to what it asks, up to
 * RAG_HTTP_RETRY_AFTER_MAX seconds.  Anything else (a 4xx, a body too
 * large, a streamed request that already delivered data) is final.
 *
 * Secrets.  Header values (an Authorization header) are only ever handed
 * to libcurl; nothing in this module copies them into a message.  URLs in
 * messages lose any user:password part (rag_http_url_for_humans).
 */
#ifndef RAG_HTTP_H
#define RAG_HTTP_H

#include <stddef.h>

#include "error.h"

#define RAG_HTTP_RETRY_AFTER_MAX 300 /* seconds */

typedef struct rag_http_opts {
	int jobs;              /* requests in flight at once (>= 1) */
	int retries;           /* further attempts after a retryable failure */
	long connect_timeout_ms; /* to establish a connection */
	long timeout_ms;       /* a whole attempt, connecting included; 0 none */
	long backoff_ms;       /* the first delay before a retry */
	long backoff_max_ms;   /* the longest delay the doubling reaches */
	size_t max_body;       /* the cap on a response body */
} rag_http_opts;

/* The defaults: 4 jobs, 5 retries, 10 s to connect, 120 s an attempt, 0.5-30 s backoff, 256 MiB. */
void rag_http_opts_default(rag_http_opts *o);

typedef struct rag_http rag_http;
typedef struct rag_http_req rag_http_req;

/* A new client.  NULL with err set. */
rag_http *rag_http_new(const rag_http_opts *o, rag_error *err);

/*
 * Frees the client and every request still queued or running (their user
 * pointers through the function set with rag_http_set_user_free); NULL is
 * fine.
 */
void rag_http_free(rag_http *h);

void rag_http_set_user_free(rag_http *h, void (*fn)(void *));

/*
 * Called, when set, with each piece of a response body as it arrives,
 * instead of the body being kept (for streamed answers).  Returns 0 to go
 * on, non-zero to abort the transfer.  Only a response with a 2xx status
 * is streamed; an error body is kept as usual.
 */
typedef int (*rag_http_data_fn)(rag_http_req *r, const char *data, size_t len, void *arg);

/*
 * Queues a POST of body[0..len) (copied) to url with the given headers
 * ("Name: value" strings, NULL-terminated, copied).  user is the caller's,
 * handed back with the request.  Returns the request, owned by the client
 * until rag_http_wait hands it back, or NULL with err set.
 */
rag_http_req *rag_http_post(rag_http *h, const char *url, const char *const *headers,
			    const char *body, size_t len, void *user, rag_error *err);

/* Streams the response of r (queued, not yet started) to fn. */
void rag_http_stream(rag_http_req *r, rag_http_data_fn fn, void *arg);

/*
 * Runs the transfers until a request is finished (succeeded, or failed
 * for good), and hands it back in *done: the caller then owns it and
 * frees it with rag_http_req_free.  Returns 1, or 0 when no request is
 * queued or running, or -1 with err set when the client itself fails.
 */
int rag_http_wait(rag_http *h, rag_http_req **done, rag_error *err);

/*
 * Runs the transfers until a request is finished (then rag_http_wait
 * hands it back at once) or fd (>= 0) has input to read.  Returns 1 when
 * a request is finished, 0 when fd is readable or nothing is pending,
 * -1 with err set when the client fails.
 */
int rag_http_run(rag_http *h, int fd, rag_error *err);

/* Requests queued, waiting for a retry or running. */
size_t rag_http_pending(const rag_http *h);

void rag_http_req_free(rag_http_req *r);

void *rag_http_user(const rag_http_req *r);

/*
 * How a finished request ended: the HTTP status of its last attempt (0
 * when it got no answer), and when it got none, why (text from libcurl,
 * else NULL).
 */
long rag_http_status(const rag_http_req *r);
const char *rag_http_failure(const rag_http_req *r);

/* The response body of the last attempt (NUL-terminated; "" when none or streamed). */
const char *rag_http_body(const rag_http_req *r, size_t *len);

/* Attempts made, and the URL requested (without any user:password). */
int rag_http_attempts(const rag_http_req *r);
const char *rag_http_url(const rag_http_req *r);

/* Whether the failure of an attempt is worth retrying: a status, or a libcurl code. */
int rag_http_status_retryable(long status);

/*
 * Parses a Retry-After value (delay-seconds, or an HTTP date in any of
 * RFC 9110's three forms) at wall-clock time now (seconds since the
 * epoch): the seconds to wait (0 for a date past), or -1 when it is not
 * one.
 */
double rag_http_retry_after(const char *value, double now);

/* The delay before retry number attempt (1, 2, ...) with jitter u in [0,1). */
long rag_http_backoff(const rag_http_opts *o, int attempt, double u);

/*
 * Copies url into out (size bytes, NUL-terminated), dropping a
 * "user:password@" part: fit for a message.
 */
const char *rag_http_url_for_humans(const char *url, char *out, size_t size);

#endif
