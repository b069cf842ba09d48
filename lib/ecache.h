/*
 * ecache.h - the embedding cache: vectors already paid for, by model and text.
 *
 * A directory (rag-embed uses $XDG_CACHE_HOME/ragkit/embed) with one file
 * per embedding, named by the SHA-256 of the server's URL, the model, the
 * dimension asked for and the exact text sent, in 256 subdirectories by
 * the first byte:
 *
 *   DIR/ab/cdef...   (62 more hex digits)
 *
 * An entry holds "RAGEMB1\n", the dimension (u32, little-endian), the
 * CRC-32C of the vector bytes (u32), and the vector (float32,
 * little-endian).  A file of any other size, magic or checksum is a miss
 * (and is removed), so a damaged entry costs one request, never a wrong
 * vector.
 *
 * Safe for several processes at once without locks: an entry is written
 * to a temporary file in its subdirectory and renamed into place, so a
 * reader sees a whole entry or none; two writers of one key write the
 * same bytes.  Size cap: after every 64 entries a process writes into a
 * subdirectory (or fewer, when they fill an eighth of its share), it lists that subdirectory and, when it holds more than
 * its 1/256 share of the cap, removes the entries used least recently
 * (oldest modification time; a hit renews it at most once an hour)
 * until it holds 90% of its share.  The cap is therefore kept
 * approximately, within what the running processes wrote since their
 * last look.
 */
#ifndef RAG_ECACHE_H
#define RAG_ECACHE_H

#include <stddef.h>

#include "error.h"

#define RAG_ECACHE_DEFAULT_MAX (1ULL << 30) /* 1 GiB */
#define RAG_ECACHE_KEY 65 /* 64 hex digits and a NUL */

typedef struct rag_ecache rag_ecache;

/*
 * Opens the cache in dir, making it (and its parents, mode 0700) when
 * missing.  max_bytes 0 is RAG_ECACHE_DEFAULT_MAX.  NULL with err set.
 */
rag_ecache *rag_ecache_open(const char *dir, unsigned long long max_bytes, rag_error *err);
void rag_ecache_close(rag_ecache *c);

/*
 * The key of a text embedded by model at url (the same name may be
 * another model on another server), with dimension want_dim asked for
 * (0 none).
 */
int rag_ecache_key(rag_ecache *c, const char *url, const char *model, size_t want_dim,
		   const char *text, size_t n, char key[RAG_ECACHE_KEY]);

/*
 * Looks a key up: 1 with *vec (a new allocation) and *dim set, 0 when
 * it is not there (or not whole), -1 with err set when memory runs out.
 */
int rag_ecache_get(rag_ecache *c, const char key[RAG_ECACHE_KEY], float **vec,
		   size_t *dim, rag_error *err);

/* Stores a vector.  0, or -1 with err set (the cache cannot be written). */
int rag_ecache_put(rag_ecache *c, const char key[RAG_ECACHE_KEY], const float *vec,
		   size_t dim, rag_error *err);

/* Entries removed to keep the cap, so far. */
unsigned long rag_ecache_evicted(const rag_ecache *c);

#endif
