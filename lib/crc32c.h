/*
 * crc32c.h - CRC-32C (Castagnoli), the checksum of the store's files.
 *
 * Uses the SSE 4.2 crc32 instruction when the CPU has it (checked once at
 * run time) and a table otherwise; both give the same values.
 */
#ifndef RAG_CRC32C_H
#define RAG_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/*
 * Extends crc (0 to start) over p[0..n).  crc32c(crc32c(0, a), b) equals
 * the checksum of a followed by b.
 */
uint32_t rag_crc32c(uint32_t crc, const void *p, size_t n);

#endif
