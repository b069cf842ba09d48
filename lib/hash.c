/* hash.c - content hashes; see hash.h. */
#include "config.h"

/*
 * The one-call SHA-256 functions: OpenSSL 3 calls them deprecated in
 * favour of EVP, but EVP must first load and fetch an implementation from a
 * provider, which costs over a millisecond at start-up (more than hashing
 * a small ingest), and then hashes no faster.  They are asked for by the
 * API level that still declares them plainly.
 */
#define OPENSSL_API_COMPAT 0x10100000L
#include <openssl/sha.h>
#include <stdlib.h>

#include "hash.h"

struct rag_hasher {
	SHA256_CTX ctx;
};

rag_hasher *rag_hasher_new(rag_error *err)
{
	rag_hasher *h = calloc(1, sizeof *h);

	if (!h)
		return rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory"), NULL;
	return h;
}

void rag_hasher_free(rag_hasher *h)
{
	free(h);
}

int rag_hasher_start(rag_hasher *h)
{
	return SHA256_Init(&h->ctx) == 1 ? 0 : -1;
}

int rag_hasher_add(rag_hasher *h, const void *p, size_t n)
{
	return SHA256_Update(&h->ctx, p, n) == 1 ? 0 : -1;
}

int rag_hasher_hex(rag_hasher *h, char *out, size_t nhex)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[SHA256_DIGEST_LENGTH];
	unsigned int n = SHA256_DIGEST_LENGTH, i;

	if (SHA256_Final(md, &h->ctx) != 1)
		return -1;
	if (nhex > 2 * (size_t)n)
		nhex = 2 * (size_t)n;
	for (i = 0; i < nhex; i++)
		out[i] = hex[(md[i / 2] >> (i % 2 ? 0 : 4)) & 15];
	out[nhex] = '\0';
	return 0;
}
