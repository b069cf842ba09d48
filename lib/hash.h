/*
 * hash.h - content hashes.
 *
 * SHA-256 (from libcrypto, which uses the CPU's SHA instructions where
 * there are any), written as lower-case hex.  Records carry the first 128
 * bits: far beyond any chance of two different contents colliding.
 */
#ifndef RAG_HASH_H
#define RAG_HASH_H

#include <stddef.h>

#include "error.h"

#define RAG_HASH_HEX 32 /* hex digits in a record's hash */

typedef struct rag_hasher rag_hasher;

rag_hasher *rag_hasher_new(rag_error *err);
void rag_hasher_free(rag_hasher *h);

/* Starts a hash, adds bytes, and writes the first nhex hex digits (<= 64) and a NUL. */
int rag_hasher_start(rag_hasher *h);
int rag_hasher_add(rag_hasher *h, const void *p, size_t n);
int rag_hasher_hex(rag_hasher *h, char *out, size_t nhex);

#endif
