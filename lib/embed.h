/*
 * embed.h - embedding models: the providers behind rag-embed.
 *
 * A model is named "provider:model":
 *   builtin:hash       computed here (lib/hashembed.h), no network
 *   openai:NAME        POST {base}/embeddings, the OpenAI wire format, which
 *                      OpenAI, vLLM, llama.cpp's server, LM Studio and
 *                      LocalAI all speak; base includes the version
 *                      (https://api.openai.com/v1); a key is sent as
 *                      "Authorization: Bearer KEY"
 *   ollama:NAME        POST {host}/api/embed, Ollama's format
 *
 * Texts go to a remote model in batches (one request each), several
 * requests in flight at once (lib/http.h), and come back in batches in
 * the order they finish.  Every answer is checked before it is believed:
 * one embedding per text, each in its place, all of one dimension (the
 * one asked for, when one was), every number finite as a float; anything
 * else fails the batch with a message that quotes the server.
 *
 * The key is held by the embedder and handed to libcurl only: no message
 * made here ever contains it.
 */
#ifndef RAG_EMBED_H
#define RAG_EMBED_H

#include <stddef.h>

#include "error.h"
#include "http.h"

#define RAG_EMBED_DEFAULT_MODEL "builtin:hash"
#define RAG_EMBED_DEFAULT_DIM 512 /* builtin:hash's */
#define RAG_EMBED_OPENAI_BASE "https://api.openai.com/v1"
#define RAG_EMBED_OLLAMA_HOST "http://127.0.0.1:11434"
#define RAG_EMBED_DIM_MAX 65536

typedef struct rag_embed_opts {
	const char *model;       /* "provider:name" */
	size_t dim;              /* 0: the model's own (512 for builtin:hash) */
	const char *openai_base; /* NULL: RAG_EMBED_OPENAI_BASE */
	const char *api_key;     /* NULL: send none (copied) */
	const char *ollama_host; /* NULL: RAG_EMBED_OLLAMA_HOST; "host[:port]" is fine */
	rag_http_opts http;
} rag_embed_opts;

/*
 * The URL of an API path at a provider (rag-ask's too): for openai (ollama
 * 0) where is the base URL (NULL or "": RAG_EMBED_OPENAI_BASE), for
 * ollama it is the host as OLLAMA_HOST gives it (NULL or "":
 * RAG_EMBED_OLLAMA_HOST).  A new string, or NULL with err set: RAG_EUSAGE
 * for a URL that is neither http:// nor https://, RAG_ENOMEM.
 */
char *rag_provider_url(int ollama, const char *where, const char *path, rag_error *err);

typedef struct rag_embedder rag_embedder;

/*
 * Checks the model name (RAG_EUSAGE for a bad one) and makes an embedder.
 * NULL with err set.
 */
rag_embedder *rag_embedder_new(const rag_embed_opts *o, rag_error *err);

/* Frees the embedder, its batches and its copy of the key; NULL is fine. */
void rag_embedder_free(rag_embedder *e);

/* The model's full name ("openai:text-embedding-3-small"). */
const char *rag_embedder_model(const rag_embedder *e);

/* Whether the model runs here (builtin:): then use rag_embedder_one. */
int rag_embedder_local(const rag_embedder *e);

/*
 * The dimension of the vectors: the one asked for, builtin:hash's, or
 * that of the first answer; 0 while unknown.
 */
size_t rag_embedder_dim(const rag_embedder *e);

/* The URL requests go to ("" for a local model), without any user:password. */
const char *rag_embedder_url(const rag_embedder *e);

/*
 * A local model: embeds text[0..n) into out[0..dim), each component
 * rounded to six decimal places (as a float).  1, or 0 when
 * the text gave no features (out is the zero vector), or -1 with err set.
 */
int rag_embedder_one(rag_embedder *e, const char *text, size_t n, float *out, rag_error *err);

/*
 * A remote model: queues one request for texts[0..n) (lens[i] bytes each,
 * valid UTF-8; copied into the request).  user is handed back with the
 * result.  0, or -1 with err set.
 */
int rag_embedder_submit(rag_embedder *e, const char *const *texts, const size_t *lens, size_t n,
			void *user, rag_error *err);

/*
 * Waits for a batch to finish.  Returns 1 with *user and *vecs set (n *
 * dim floats, n as submitted, a new allocation for the caller to free);
 * 0 when no batch is pending; -1 with err set when the batch failed for
 * good (*user tells which) or the client failed (*user NULL).
 */
int rag_embedder_wait(rag_embedder *e, void **user, float **vecs, rag_error *err);

/*
 * Sets the dimension while it is unknown (from vectors made earlier:
 * later answers must agree).
 */
void rag_embedder_set_dim(rag_embedder *e, size_t dim);

/* Frees the user pointer of a batch that is dropped unfinished (rag_embedder_free). */
void rag_embedder_set_user_free(rag_embedder *e, void (*fn)(void *));

/*
 * Moves the requests along until a batch is finished (1: rag_embedder_wait
 * then returns at once) or fd has input (0; also when nothing is pending).
 * -1 with err set.
 */
int rag_embedder_run(rag_embedder *e, int fd, rag_error *err);

/*
 * Embeds one text and waits for it, whichever the model (a query, say):
 * out gets dim components, the dimension the caller expects (another
 * from the model is an error).  0, or -1 with err set.
 */
int rag_embedder_embed(rag_embedder *e, const char *text, size_t n, float *out, size_t dim,
		       rag_error *err);

/* Batches submitted and not yet handed back. */
size_t rag_embedder_pending(const rag_embedder *e);

/* HTTP attempts made so far (retries included). */
unsigned long rag_embedder_requests(const rag_embedder *e);

/*
 * Checks a parsed answer to a request for n texts and fills out (n *
 * *dim floats, allocated here).  want_dim 0 accepts any dimension.  For
 * the tests and for rag_embedder_wait.  0, or -1 with err's text set.
 */
int rag_embed_parse_openai(const char *body, size_t len, size_t n, size_t want_dim,
			   float **out, size_t *dim, rag_error *err);
int rag_embed_parse_ollama(const char *body, size_t len, size_t n, size_t want_dim,
			   float **out, size_t *dim, rag_error *err);

/*
 * The server's own words in an error body (OpenAI's envelope, Ollama's
 * "error"): a new string for the caller to free, or NULL when there are none.
 */
char *rag_embed_server_message(const char *body, size_t len);

/* ---- where the remote providers are ---- */

/*
 * The OpenAI provider's API key, as every program finds it: env (the
 * value of OPENAI_API_KEY) when not empty; else text, openai.api_key of
 * the configuration file path (line line), which must be the user's and
 * readable by nobody else; else the first line of the file key_file
 * (the same rule).  Any of them may be NULL.  *key gets a new string, to
 * be given back with rag_api_key_free, or NULL when there is none.  0,
 * or -1 with err set: RAG_EUSAGE for a file others can read or that
 * holds no key, RAG_EIO when a file cannot be read.  The messages never
 * quote the key.
 */
int rag_api_key(const char *env, const char *text, const char *path, long line,
		const char *key_file, char **key, rag_error *err);

/*
 * What a server sent, body[0..*len), without the key: every copy of key
 * (NULL or "" for none) replaced by "[key]", so that a server that echoes
 * the request's headers in its error cannot put the key in a message.
 * Call it before anything is parsed, quoted or cut.  Returns body itself
 * when it does not hold the key, else a NUL-terminated copy (its length in
 * *len) that is also left in *own for the caller to free; NULL when memory
 * runs out.
 */
const char *rag_without_key(const char *body, size_t *len, const char *key, char **own);

/* Wipes the key and frees it; NULL is fine. */
void rag_api_key_free(char *key);

struct rag_config;

/*
 * A setting: the environment variable env when it is set and not empty,
 * else key of the configuration file cfg (may be NULL), else NULL.
 */
const char *rag_setting(const char *env, const struct rag_config *cfg, const char *key);

/* The OpenAI key as rag_api_key finds it: OPENAI_API_KEY, then cfg's. */
int rag_openai_key(const struct rag_config *cfg, char **key, rag_error *err);

/*
 * The embedder of model (a store's), its server and key found as
 * rag-embed finds them: the environment, then the configuration file;
 * dim is a builtin model's dimension.  NULL with err set.
 */
rag_embedder *rag_embedder_configured(const char *model, size_t dim, rag_error *err);

#endif
