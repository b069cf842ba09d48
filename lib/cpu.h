/*
 * cpu.h - what the processor can do, asked once at run time.
 *
 * Kernels with a faster form for some processors (SHA-256, and the
 * vector distances) pick it with rag_cpu_has, so one build runs well on
 * any x86-64 machine and correctly on every other.  A feature counts
 * only when the operating system also saves the registers it uses.
 */
#ifndef RAG_CPU_H
#define RAG_CPU_H

enum rag_cpu_feature {
	RAG_CPU_SSE41 = 1u << 0,
	RAG_CPU_SHA = 1u << 1,    /* the SHA-256 instructions (with SSE 4.1) */
	RAG_CPU_AVX2 = 1u << 2,   /* AVX2 with FMA */
	RAG_CPU_AVX512 = 1u << 3, /* AVX-512 F, BW and VL */
	RAG_CPU_F16C = 1u << 4,
	RAG_CPU_VNNI = 1u << 5    /* AVX-512 VNNI (with RAG_CPU_AVX512) */
};

/* The features present, as enum rag_cpu_feature bits (thread-safe). */
unsigned rag_cpu_features(void);

/*
 * Keeps only the features in mask from now on (tests use it to reach the
 * plain forms of kernels on a machine that has the faster ones).
 */
void rag_cpu_limit(unsigned mask);

/* Nonzero when every feature in mask is present. */
static inline int rag_cpu_has(unsigned mask)
{
	return (rag_cpu_features() & mask) == mask;
}

#endif
