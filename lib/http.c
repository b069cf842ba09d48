/*
 * http.c - POST requests on libcurl's multi interface, with retries.
 *
 * Every request is in one of four places: queued (not started), running
 * (an easy handle in the multi handle), waiting (for the time of its next
 * attempt) or done (finished for good, waiting for rag_http_wait to hand
 * it back).  rag_http_wait moves requests along until one is done.
 */
#include "config.h"

#include <curl/curl.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "http.h"
#include "ragkit.h"

enum { Q_QUEUED, Q_RUNNING, Q_WAITING, Q_DONE };

struct rag_http_req {
	rag_http *h;
	struct rag_http_req *next; /* in its list */
	int where;
	char *url;
	char *shown_url; /* url without user:password */
	struct curl_slist *headers;
	char *body;
	size_t body_len;
	void *user;
	rag_http_data_fn stream;
	void *stream_arg;
	CURL *easy;
	int attempts;
	long status;
	int delivered; /* the stream callback has had data */
	int too_big;   /* the body passed max_body */
	int aborted;   /* the stream callback asked to stop */
	double retry_after; /* seconds, -1 when the answer had none */
	double due;         /* when waiting: the time of the next attempt */
	rag_buf resp;
	char failure[CURL_ERROR_SIZE + 64];
	char curl_err[CURL_ERROR_SIZE];
};

struct rag_http {
	rag_http_opts o;
	CURLM *multi;
	rag_http_req *queued, *queued_tail; /* first in, first out */
	rag_http_req *waiting;              /* in no order: there are few */
	rag_http_req *done, *done_tail;
	rag_http_req *running_list;         /* in no order: at most jobs */
	size_t running, nqueued, nwaiting;
	uint64_t rng;
	void (*user_free)(void *);
};

/*
 * libcurl is loaded when the first client is made, not when a program
 * starts: it brings a TLS library and a dozen others with it, whose
 * loading would add some 12 ms to the start of every program that links
 * this file, most of which never send a request (rag-search with a
 * built-in model, say).  Its functions are called through cu, filled
 * from the library by curl_init; the names below stand for them.
 */
#ifndef RAG_CURL_SONAME /* configure finds the name this build links against */
#define RAG_CURL_SONAME "libcurl.so.4"
#endif

static struct {
	CURLcode (*global_init)(long);
	CURL *(*easy_init)(void);
	void (*easy_cleanup)(CURL *);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	const char *(*easy_strerror)(CURLcode);
	CURLM *(*multi_init)(void);
	CURLMcode (*multi_cleanup)(CURLM *);
	CURLMcode (*multi_setopt)(CURLM *, CURLMoption, ...);
	CURLMcode (*multi_add_handle)(CURLM *, CURL *);
	CURLMcode (*multi_remove_handle)(CURLM *, CURL *);
	CURLMcode (*multi_perform)(CURLM *, int *);
	CURLMcode (*multi_poll)(CURLM *, struct curl_waitfd *, unsigned, int, int *);
	CURLMsg *(*multi_info_read)(CURLM *, int *);
	const char *(*multi_strerror)(CURLMcode);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
} cu;

#undef curl_easy_setopt
#undef curl_easy_getinfo
#undef curl_multi_setopt
#define curl_global_init cu.global_init
#define curl_easy_init cu.easy_init
#define curl_easy_cleanup cu.easy_cleanup
#define curl_easy_setopt cu.easy_setopt
#define curl_easy_getinfo cu.easy_getinfo
#define curl_easy_strerror cu.easy_strerror
#define curl_multi_init cu.multi_init
#define curl_multi_cleanup cu.multi_cleanup
#define curl_multi_setopt cu.multi_setopt
#define curl_multi_add_handle cu.multi_add_handle
#define curl_multi_remove_handle cu.multi_remove_handle
#define curl_multi_perform cu.multi_perform
#define curl_multi_poll cu.multi_poll
#define curl_multi_info_read cu.multi_info_read
#define curl_multi_strerror cu.multi_strerror
#define curl_slist_append cu.slist_append
#define curl_slist_free_all cu.slist_free_all

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static char curl_init_failed[256]; /* why libcurl could not be started, or "" */

static void curl_init(void)
{
	static const struct {
		const char *name;
		void *slot; /* where its address goes: a function pointer of cu */
	} fn[] = {
		{"curl_global_init", &cu.global_init},
		{"curl_easy_init", &cu.easy_init},
		{"curl_easy_cleanup", &cu.easy_cleanup},
		{"curl_easy_setopt", &cu.easy_setopt},
		{"curl_easy_getinfo", &cu.easy_getinfo},
		{"curl_easy_strerror", &cu.easy_strerror},
		{"curl_multi_init", &cu.multi_init},
		{"curl_multi_cleanup", &cu.multi_cleanup},
		{"curl_multi_setopt", &cu.multi_setopt},
		{"curl_multi_add_handle", &cu.multi_add_handle},
		{"curl_multi_remove_handle", &cu.multi_remove_handle},
		{"curl_multi_perform", &cu.multi_perform},
		{"curl_multi_poll", &cu.multi_poll},
		{"curl_multi_info_read", &cu.multi_info_read},
		{"curl_multi_strerror", &cu.multi_strerror},
		{"curl_slist_append", &cu.slist_append},
		{"curl_slist_free_all", &cu.slist_free_all},
	};
	void *lib = dlopen(RAG_CURL_SONAME, RTLD_NOW | RTLD_LOCAL);
	CURLcode rc;

	if (!lib) {
		const char *why = dlerror();
		snprintf(curl_init_failed, sizeof curl_init_failed, "cannot load %s (%s)",
			 RAG_CURL_SONAME, why ? why : "no reason given");
		return;
	}
	for (size_t i = 0; i < sizeof fn / sizeof fn[0]; i++) {
		void *f = dlsym(lib, fn[i].name);
		if (!f) {
			snprintf(curl_init_failed, sizeof curl_init_failed, "%s lacks %s",
				 RAG_CURL_SONAME, fn[i].name);
			return;
		}
		/* a function's address, as dlsym gives it, into its pointer */
		memcpy(fn[i].slot, &f, sizeof f);
	}
	if ((rc = curl_global_init(CURL_GLOBAL_DEFAULT)) != CURLE_OK)
		snprintf(curl_init_failed, sizeof curl_init_failed, "cannot start libcurl: %s",
			 curl_easy_strerror(rc));
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

void rag_http_opts_default(rag_http_opts *o)
{
	o->jobs = 4;
	o->retries = 5;
	o->connect_timeout_ms = 10000;
	o->timeout_ms = 120000;
	o->backoff_ms = 500;
	o->backoff_max_ms = 30000;
	o->max_body = (size_t)256 << 20;
}

rag_http *rag_http_new(const rag_http_opts *o, rag_error *err)
{
	rag_http *h;

	pthread_once(&curl_once, curl_init);
	if (curl_init_failed[0])
		return rag_error_set(err, RAG_EIO, NULL, 0, "%s", curl_init_failed), NULL;
	if (!(h = calloc(1, sizeof *h)))
		return rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory"), NULL;
	h->o = *o;
	if (h->o.jobs < 1)
		h->o.jobs = 1;
	if (!(h->multi = curl_multi_init())) {
		free(h);
		return rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory"), NULL;
	}
	/* keep a connection for every job between requests */
	curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS, (long)h->o.jobs);
	h->rng = (uint64_t)time(NULL) * 0x9E3779B97F4A7C15ULL ^ (uint64_t)getpid() << 20 ^
		 (uint64_t)(uintptr_t)h;
	return h;
}

static double rand01(rag_http *h)
{
	/* xorshift64*: jitter needs no more */
	h->rng ^= h->rng >> 12;
	h->rng ^= h->rng << 25;
	h->rng ^= h->rng >> 27;
	return (double)((h->rng * 0x2545F4914F6CDD1DULL) >> 11) / 9007199254740992.0;
}

void rag_http_req_free(rag_http_req *r)
{
	if (!r)
		return;
	if (r->easy) {
		if (r->where == Q_RUNNING && r->h)
			curl_multi_remove_handle(r->h->multi, r->easy);
		curl_easy_cleanup(r->easy);
	}
	for (struct curl_slist *l = r->headers; l; l = l->next)
		explicit_bzero(l->data, strlen(l->data)); /* a header may hold a key */
	curl_slist_free_all(r->headers);
	free(r->url);
	free(r->shown_url);
	free(r->body);
	rag_buf_free(&r->resp);
	free(r);
}

void rag_http_set_user_free(rag_http *h, void (*fn)(void *))
{
	h->user_free = fn;
}

static void free_list(rag_http *h, rag_http_req *r)
{
	while (r) {
		rag_http_req *next = r->next;
		if (h->user_free && r->user)
			h->user_free(r->user);
		rag_http_req_free(r);
		r = next;
	}
}

void rag_http_free(rag_http *h)
{
	if (!h)
		return;
	free_list(h, h->queued);
	free_list(h, h->waiting);
	free_list(h, h->done);
	free_list(h, h->running_list);
	if (h->multi)
		curl_multi_cleanup(h->multi);
	free(h);
}

const char *rag_http_url_for_humans(const char *url, char *out, size_t size)
{
	const char *scheme = strstr(url, "://"), *host, *at, *end;

	if (!size)
		return out;
	host = scheme ? scheme + 3 : url;
	end = host + strcspn(host, "/?#");
	at = memchr(host, '@', (size_t)(end - host));
	if (at)
		snprintf(out, size, "%.*s%s", (int)(host - url), url, at + 1);
	else
		snprintf(out, size, "%s", url);
	return out;
}

rag_http_req *rag_http_post(rag_http *h, const char *url, const char *const *headers,
			    const char *body, size_t len, void *user, rag_error *err)
{
	rag_http_req *r = calloc(1, sizeof *r);
	size_t ulen = strlen(url) + 1;

	if (!r)
		goto nomem;
	r->h = h;
	r->user = user;
	r->retry_after = -1;
	rag_buf_init(&r->resp, h->o.max_body);
	if (!(r->url = strdup(url)) || !(r->shown_url = malloc(ulen)) ||
	    !(r->body = malloc(len ? len : 1)))
		goto nomem;
	rag_http_url_for_humans(url, r->shown_url, ulen);
	if (len)
		memcpy(r->body, body, len);
	r->body_len = len;
	for (size_t i = 0; headers && headers[i]; i++) {
		struct curl_slist *l = curl_slist_append(r->headers, headers[i]);
		if (!l)
			goto nomem;
		r->headers = l;
	}
	{
		/* no "Expect: 100-continue" pause before a large body */
		struct curl_slist *l = curl_slist_append(r->headers, "Expect:");
		if (!l)
			goto nomem;
		r->headers = l;
	}
	r->where = Q_QUEUED;
	if (h->queued_tail)
		h->queued_tail->next = r;
	else
		h->queued = r;
	h->queued_tail = r;
	h->nqueued++;
	return r;
nomem:
	rag_http_req_free(r);
	rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
	return NULL;
}

void rag_http_stream(rag_http_req *r, rag_http_data_fn fn, void *arg)
{
	r->stream = fn;
	r->stream_arg = arg;
}

size_t rag_http_pending(const rag_http *h)
{
	return h->nqueued + h->nwaiting + h->running;
}

void *rag_http_user(const rag_http_req *r)
{
	return r->user;
}

long rag_http_status(const rag_http_req *r)
{
	return r->status;
}

const char *rag_http_failure(const rag_http_req *r)
{
	return r->failure[0] ? r->failure : NULL;
}

const char *rag_http_body(const rag_http_req *r, size_t *len)
{
	if (len)
		*len = r->resp.len;
	return r->resp.data ? r->resp.data : "";
}

int rag_http_attempts(const rag_http_req *r)
{
	return r->attempts;
}

const char *rag_http_url(const rag_http_req *r)
{
	return r->shown_url;
}

int rag_http_status_retryable(long status)
{
	return status == 408 || status == 429 || (status >= 500 && status <= 599);
}

static int curl_retryable(CURLcode c)
{
	switch (c) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return 1;
	default:
		return 0;
	}
}

long rag_http_backoff(const rag_http_opts *o, int attempt, double u)
{
	double d = (double)o->backoff_ms;

	for (int i = 1; i < attempt && d < (double)o->backoff_max_ms; i++)
		d *= 2;
	if (d > (double)o->backoff_max_ms)
		d = (double)o->backoff_max_ms;
	/* the upper half of the delay, at random */
	return (long)(d / 2 + d / 2 * u);
}

double rag_http_retry_after(const char *value, double now)
{
	/* IMF-fixdate, then the obsolete RFC 850 and asctime forms (RFC 9110, 5.6.7) */
	static const char *const forms[] = {"%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT",
					    "%a %b %d %H:%M:%S %Y"};
	const char *s = value, *e;
	struct tm tm;
	time_t t;

	while (*s == ' ' || *s == '\t')
		s++;
	if (*s >= '0' && *s <= '9') {
		/* delay-seconds: digits only */
		double secs = 0;
		for (e = s; *e >= '0' && *e <= '9'; e++)
			secs = secs * 10 + (*e - '0');
		while (*e == ' ' || *e == '\t' || *e == '\r' || *e == '\n')
			e++;
		return *e ? -1 : secs;
	}
	for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
		memset(&tm, 0, sizeof tm);
		e = strptime(s, forms[i], &tm);
		if (!e)
			continue;
		while (*e == ' ' || *e == '\t' || *e == '\r' || *e == '\n')
			e++;
		if (*e || (t = timegm(&tm)) == (time_t)-1)
			continue;
		return (double)t > now ? (double)t - now : 0;
	}
	return -1;
}

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
	rag_http_req *r = arg;
	size_t len = size * n;
	char line[128];

	if (len >= 5 && !strncmp(data, "HTTP/", 5)) {
		r->retry_after = -1; /* a new response (after a 1xx) */
		return len;
	}
	if (len > 12 && len < sizeof line && !strncasecmp(data, "Retry-After:", 12)) {
		memcpy(line, data + 12, len - 12);
		line[len - 12] = '\0';
		r->retry_after = rag_http_retry_after(line, (double)time(NULL));
	}
	return len;
}

static size_t on_data(char *data, size_t size, size_t n, void *arg)
{
	rag_http_req *r = arg;
	size_t len = size * n;

	if (r->stream) {
		long status = 0;
		curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
		if (status >= 200 && status < 300) {
			r->delivered = 1;
			if (r->stream(r, data, len, r->stream_arg)) {
				r->aborted = 1;
				return 0;
			}
			return len;
		}
	}
	if (rag_buf_add(&r->resp, data, len) < 0) {
		r->too_big = 1;
		return 0;
	}
	return len;
}

/* Starts an attempt at r.  0, or -1 with err set. */
static int start(rag_http *h, rag_http_req *r, rag_error *err)
{
	CURL *e = r->easy;

	if (!e) {
		if (!(e = curl_easy_init()))
			return rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
		r->easy = e;
		curl_easy_setopt(e, CURLOPT_URL, r->url);
		curl_easy_setopt(e, CURLOPT_POST, 1L);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
		curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
		curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
		curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
		curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
		curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
		curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)r);
		curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->curl_err);
		curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, h->o.connect_timeout_ms);
		curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, h->o.timeout_ms);
		curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
		curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
		curl_easy_setopt(e, CURLOPT_USERAGENT, "ragkit/" PACKAGE_VERSION);
#if LIBCURL_VERSION_NUM >= 0x075500
		curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
#else
		curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	}
	r->curl_err[0] = '\0';
	r->status = 0;
	r->retry_after = -1;
	r->resp.len = 0;
	if (r->resp.data)
		r->resp.data[0] = '\0';
	if (curl_multi_add_handle(h->multi, e) != CURLM_OK)
		return rag_error_set(err, RAG_ENOMEM, NULL, 0, "cannot start a request");
	r->attempts++;
	r->where = Q_RUNNING;
	r->next = h->running_list;
	h->running_list = r;
	h->running++;
	return 0;
}

static void push_done(rag_http *h, rag_http_req *r)
{
	r->where = Q_DONE;
	r->next = NULL;
	if (h->done_tail)
		h->done_tail->next = r;
	else
		h->done = r;
	h->done_tail = r;
}

/* An attempt at r ended with code c: retry it, or it is done. */
static void finished(rag_http *h, rag_http_req *r, CURLcode c)
{
	int again;

	curl_multi_remove_handle(h->multi, r->easy);
	for (rag_http_req **p = &h->running_list; *p; p = &(*p)->next)
		if (*p == r) {
			*p = r->next;
			break;
		}
	r->next = NULL;
	h->running--;
	curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->status);
	r->failure[0] = '\0';
	if (c != CURLE_OK) {
		if (r->too_big)
			snprintf(r->failure, sizeof r->failure,
				 "the answer is larger than %zu bytes", h->o.max_body);
		else if (r->aborted)
			snprintf(r->failure, sizeof r->failure, "the transfer was stopped");
		else if (c == CURLE_OPERATION_TIMEDOUT)
			snprintf(r->failure, sizeof r->failure, "timed out (%s)",
				 r->curl_err[0] ? r->curl_err : curl_easy_strerror(c));
		else
			snprintf(r->failure, sizeof r->failure, "%s",
				 r->curl_err[0] ? r->curl_err : curl_easy_strerror(c));
		r->status = 0; /* no whole answer */
		again = curl_retryable(c) && !r->too_big && !r->aborted;
	} else {
		again = rag_http_status_retryable(r->status);
	}
	if (again && !r->delivered && r->attempts <= h->o.retries) {
		long ms = rag_http_backoff(&h->o, r->attempts, rand01(h));
		if (r->retry_after >= 0) {
			double ra = r->retry_after > RAG_HTTP_RETRY_AFTER_MAX ? RAG_HTTP_RETRY_AFTER_MAX
									       : r->retry_after;
			if (ra * 1000 > (double)ms)
				ms = (long)(ra * 1000);
		}
		r->due = now_s() + (double)ms / 1000;
		r->where = Q_WAITING;
		r->next = h->waiting;
		h->waiting = r;
		h->nwaiting++;
		return;
	}
	push_done(h, r);
}

/* Starts what may start: due retries first, then queued requests. */
static int start_ready(rag_http *h, double now, rag_error *err)
{
	rag_http_req **p = &h->waiting;

	while (*p && h->running < (size_t)h->o.jobs) {
		rag_http_req *r = *p;
		if (r->due > now) {
			p = &r->next;
			continue;
		}
		*p = r->next;
		h->nwaiting--;
		r->next = NULL;
		if (start(h, r, err) < 0) {
			push_done(h, r);
			return -1;
		}
	}
	while (h->queued && h->running < (size_t)h->o.jobs) {
		rag_http_req *r = h->queued;
		h->queued = r->next;
		if (!h->queued)
			h->queued_tail = NULL;
		h->nqueued--;
		r->next = NULL;
		if (start(h, r, err) < 0) {
			push_done(h, r);
			return -1;
		}
	}
	return 0;
}

/*
 * One turn: starts what may start, moves the transfers, takes what
 * finished, then sleeps until a transfer moves, a retry is due or fd
 * (when >= 0) is readable.  Returns 1 when fd became readable, else 0;
 * -1 with err set.
 */
static int turn(rag_http *h, int fd, rag_error *err)
{
	double now = now_s(), next_due = 0;
	struct curl_waitfd wfd = {fd, CURL_WAIT_POLLIN, 0};
	int still, left;
	CURLMsg *m;
	CURLMcode mc;
	long ms;

	if (start_ready(h, now, err) < 0)
		return -1;
	if (h->running) {
		if ((mc = curl_multi_perform(h->multi, &still)) != CURLM_OK)
			return rag_error_set(err, RAG_EIO, NULL, 0, "HTTP client failed: %s",
					     curl_multi_strerror(mc));
		while ((m = curl_multi_info_read(h->multi, &left))) {
			rag_http_req *r = NULL;
			if (m->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
			finished(h, r, m->data.result);
		}
	}
	if (h->done)
		return 0;
	/* sleep until a transfer moves, a retry is due or fd has input */
	ms = 1000;
	for (rag_http_req *r = h->waiting; r; r = r->next)
		if (!next_due || r->due < next_due)
			next_due = r->due;
	if (next_due) {
		double d = (next_due - now_s()) * 1000;
		if (d < ms)
			ms = d < 0 ? 0 : (long)d + 1;
	}
	if ((mc = curl_multi_poll(h->multi, fd >= 0 ? &wfd : NULL, fd >= 0 ? 1 : 0, (int)ms, NULL)) !=
	    CURLM_OK)
		return rag_error_set(err, RAG_EIO, NULL, 0, "HTTP client failed: %s",
				     curl_multi_strerror(mc));
	return fd >= 0 && wfd.revents != 0;
}

int rag_http_run(rag_http *h, int fd, rag_error *err)
{
	for (;;) {
		int k;
		if (h->done)
			return 1;
		if (!rag_http_pending(h))
			return 0;
		if ((k = turn(h, fd, err)) != 0)
			return k < 0 ? -1 : 0;
	}
}

int rag_http_wait(rag_http *h, rag_http_req **done, rag_error *err)
{
	for (;;) {
		if (h->done) {
			*done = h->done;
			h->done = h->done->next;
			if (!h->done)
				h->done_tail = NULL;
			(*done)->next = NULL;
			return 1;
		}
		if (!rag_http_pending(h))
			return 0;
		if (turn(h, -1, err) < 0)
			return -1;
	}
}
