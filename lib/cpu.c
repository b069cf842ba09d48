/* cpu.c - processor features; see cpu.h. */
#include "config.h"

#include <stdatomic.h>

#include "cpu.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>

/* The registers the operating system saves, from XCR0. */
static unsigned long long xcr0(void)
{
	unsigned lo, hi;

	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return ((unsigned long long)hi << 32) | lo;
}

static unsigned probe(void)
{
	unsigned a, b, c, d, f = 0, max;
	int ymm = 0, zmm = 0;

	if (!__get_cpuid(0, &max, &b, &c, &d) || !__get_cpuid(1, &a, &b, &c, &d))
		return 0;
	if (c & bit_SSE4_1)
		f |= RAG_CPU_SSE41;
	if ((c & bit_OSXSAVE) && (c & bit_AVX)) {
		unsigned long long x = xcr0();
		ymm = (x & 0x6) == 0x6;          /* SSE and AVX state */
		zmm = ymm && (x & 0xe0) == 0xe0; /* opmask and both ZMM halves */
	}
	int fma = (c & bit_FMA) != 0, f16c = (c & bit_F16C) != 0;
	if (max < 7)
		return f;
	__cpuid_count(7, 0, a, b, c, d);
	if ((b & bit_SHA) && (f & RAG_CPU_SSE41))
		f |= RAG_CPU_SHA;
	if (ymm && fma && (b & bit_AVX2))
		f |= RAG_CPU_AVX2;
	if (ymm && f16c)
		f |= RAG_CPU_F16C;
	if (zmm && (f & RAG_CPU_AVX2) && (b & bit_AVX512F) && (b & bit_AVX512BW) &&
	    (b & bit_AVX512VL))
		f |= RAG_CPU_AVX512;
	if ((f & RAG_CPU_AVX512) && (c & bit_AVX512VNNI))
		f |= RAG_CPU_VNNI;
	return f;
}
#else
static unsigned probe(void)
{
	return 0;
}
#endif

/* Bit 31 marks "asked"; a race only asks twice. */
static _Atomic unsigned features;
static _Atomic unsigned limit = 0x7fffffffu;

unsigned rag_cpu_features(void)
{
	unsigned f = atomic_load_explicit(&features, memory_order_relaxed);

	if (!(f & 0x80000000u)) {
		f = probe() | 0x80000000u;
		atomic_store_explicit(&features, f, memory_order_relaxed);
	}
	return f & atomic_load_explicit(&limit, memory_order_relaxed);
}

void rag_cpu_limit(unsigned mask)
{
	atomic_store_explicit(&limit, mask & 0x7fffffffu, memory_order_relaxed);
}
