/*
 * vec.c - distance kernels for vector search; see vec.h.
 *
 * Every kernel is one loop over n elements with several independent
 * sums (four vectors of lanes; eight floats in plain C, which compilers
 * turn into two SSE or NEON registers), so that a multiply-add need not
 * wait for the one before it.  Each instruction set has one macro for
 * that loop, and the four kernels of the set differ only in how they
 * load the second vector (float32, float16 or uint8, widened to float32)
 * and how they combine a pair (a product, or a squared difference).
 *
 * No kernel reads past element n: the AVX2 and NEON loops finish with
 * one element at a time, the AVX-512 loop with a masked load, which
 * cannot fault on the elements it leaves out.
 */
#include "config.h"

#include <float.h>
#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include "cpu.h"
#include "vec.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define VEC_X86 1
#include <immintrin.h>
#elif defined(__aarch64__)
#define VEC_NEON 1
#include <arm_neon.h>
#endif

/* float16 <-> float32 */

static inline float bits_to_f32(uint32_t u)
{
	float f;

	memcpy(&f, &u, sizeof f);
	return f;
}

static inline uint32_t f32_to_bits(float f)
{
	uint32_t u;

	memcpy(&u, &f, sizeof u);
	return u;
}

static inline float half_to_float(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000) << 16, em = h & 0x7fffu, u;

	if (em >= 0x7c00) /* infinity, or NaN with its payload */
		u = 0x7f800000u | (em & 0x3ff) << 13;
	else if (em >= 0x0400) /* normal: move the exponent's bias from 15 to 127 */
		u = (em << 13) + ((127u - 15) << 23);
	else /* zero or subnormal: em units of 2^-24, exact in float */
		u = f32_to_bits((float)em * 0x1p-24f);
	return bits_to_f32(sign | u);
}

float rag_f16_to_f32(uint16_t h)
{
	return half_to_float(h);
}

/* The magnitude m (a float's bits, below 2^-14) in units of 2^-24, rounded to even. */
static uint16_t subnormal_half(uint32_t m)
{
	if (m <= 0x33000000u) /* at most 2^-25, half the least subnormal: to zero */
		return 0;
	uint32_t mant = (m & 0x7fffffu) | 0x800000u;
	unsigned shift = 126 - (m >> 23); /* from 14 to 24 in this range */
	uint32_t r = mant >> shift, rest = mant & ((1u << shift) - 1), half = 1u << (shift - 1);

	if (rest > half || (rest == half && (r & 1)))
		r++; /* may reach 0x400, the least normal: still right */
	return (uint16_t)r;
}

uint16_t rag_f32_to_f16(float x)
{
	uint32_t u = f32_to_bits(x), m = u & 0x7fffffffu;
	uint16_t sign = (uint16_t)((u >> 16) & 0x8000);

	if (m > 0x7f800000u) /* NaN: quiet, with the top of the payload */
		return (uint16_t)(sign | 0x7e00 | (m >> 13 & 0x3ff));
	if (m >= 0x477ff000u) /* 65520 and up round to infinity */
		return (uint16_t)(sign | 0x7c00);
	if (m < 0x38800000u) /* below 2^-14 */
		return (uint16_t)(sign | subnormal_half(m));
	m -= (127u - 15) << 23;
	m += 0xfff + (m >> 13 & 1); /* round to nearest even; a carry moves up the exponent */
	return (uint16_t)(sign | m >> 13);
}

/* Plain C */

static inline float load1_f32(float x)
{
	return x;
}

static inline float load1_u8(uint8_t c)
{
	return (float)c;
}

static inline float mul1(float s, float a, float b)
{
	return s + a * b;
}

static inline float sqd1(float s, float a, float b)
{
	float d = a - b;

	return s + d * d;
}

#define PLAIN_KERNEL(name, type, load1, step1)                                                     \
	static float name(const float *a, const type *b, size_t n)                                 \
	{                                                                                          \
		float s[8] = {0};                                                                  \
		size_t i = 0;                                                                      \
                                                                                                   \
		for (; i + 8 <= n; i += 8)                                                         \
			for (size_t k = 0; k < 8; k++)                                             \
				s[k] = step1(s[k], a[i + k], load1(b[i + k]));                     \
		for (; i < n; i++)                                                                 \
			s[0] = step1(s[0], a[i], load1(b[i]));                                     \
		return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));          \
	}

PLAIN_KERNEL(dot_plain, float, load1_f32, mul1)
PLAIN_KERNEL(l2sq_plain, float, load1_f32, sqd1)
PLAIN_KERNEL(dot_f16_plain, uint16_t, half_to_float, mul1)
PLAIN_KERNEL(dot_u8_plain, uint8_t, load1_u8, mul1)

static const rag_vec_kernels k_plain = {"plain", dot_plain, l2sq_plain, dot_f16_plain,
                                        dot_u8_plain, NULL};

#ifdef VEC_X86

/* AVX2 with FMA: four sums of 8 lanes, then 8 at a time, then one at a time. */

#define AVX2 __attribute__((target("avx2,fma")))

AVX2 static inline __m256 load8_f32(const float *p)
{
	return _mm256_loadu_ps(p);
}

__attribute__((target("avx2,fma,f16c"))) static inline __m256 load8_f16(const uint16_t *p)
{
	return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}

AVX2 static inline __m256 load8_u8(const uint8_t *p)
{
	return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)p)));
}

AVX2 static inline __m256 mul8(__m256 s, __m256 a, __m256 b)
{
	return _mm256_fmadd_ps(a, b, s);
}

AVX2 static inline __m256 sqd8(__m256 s, __m256 a, __m256 b)
{
	__m256 d = _mm256_sub_ps(a, b);

	return _mm256_fmadd_ps(d, d, s);
}

AVX2 static inline float sum8(__m256 v)
{
	__m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));

	s = _mm_add_ps(s, _mm_movehl_ps(s, s));
	s = _mm_add_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}

#define AVX2_KERNEL(name, target_, type, load8, load1, step8, step1)                               \
	__attribute__((target(target_))) static float name(const float *a, const type *b,          \
	                                                   size_t n)                               \
	{                                                                                          \
		__m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;                        \
		size_t i = 0;                                                                      \
                                                                                                   \
		for (; i + 32 <= n; i += 32) {                                                     \
			s0 = step8(s0, _mm256_loadu_ps(a + i), load8(b + i));                      \
			s1 = step8(s1, _mm256_loadu_ps(a + i + 8), load8(b + i + 8));              \
			s2 = step8(s2, _mm256_loadu_ps(a + i + 16), load8(b + i + 16));            \
			s3 = step8(s3, _mm256_loadu_ps(a + i + 24), load8(b + i + 24));            \
		}                                                                                  \
		for (; i + 8 <= n; i += 8)                                                         \
			s0 = step8(s0, _mm256_loadu_ps(a + i), load8(b + i));                      \
		float s = sum8(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));       \
		for (; i < n; i++)                                                                 \
			s = step1(s, a[i], load1(b[i]));                                           \
		return s;                                                                          \
	}

AVX2_KERNEL(dot_avx2, "avx2,fma", float, load8_f32, load1_f32, mul8, mul1)
AVX2_KERNEL(l2sq_avx2, "avx2,fma", float, load8_f32, load1_f32, sqd8, sqd1)
AVX2_KERNEL(dot_f16_avx2, "avx2,fma,f16c", uint16_t, load8_f16, half_to_float, mul8, mul1)
AVX2_KERNEL(dot_u8_avx2, "avx2,fma", uint8_t, load8_u8, load1_u8, mul8, mul1)

static const rag_vec_kernels k_avx2 = {"avx2", dot_avx2, l2sq_avx2, dot_f16_avx2, dot_u8_avx2,
				       NULL};
/* The same for a processor without F16C (none is known, but cpu.h keeps them apart). */
static const rag_vec_kernels k_avx2_no_f16c = {"avx2", dot_avx2, l2sq_avx2, dot_f16_plain,
                                               dot_u8_avx2, NULL};

/* AVX-512: four sums of 16 lanes, then 16 at a time, then one masked step. */

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma")))

AVX512 static inline __m512 load16_f32(const float *p)
{
	return _mm512_loadu_ps(p);
}

AVX512 static inline __m512 mload16_f32(__mmask16 m, const float *p)
{
	return _mm512_maskz_loadu_ps(m, p);
}

AVX512 static inline __m512 load16_f16(const uint16_t *p)
{
	return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
}

AVX512 static inline __m512 mload16_f16(__mmask16 m, const uint16_t *p)
{
	return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p));
}

AVX512 static inline __m512 load16_u8(const uint8_t *p)
{
	return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)p)));
}

AVX512 static inline __m512 mload16_u8(__mmask16 m, const uint8_t *p)
{
	return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, p)));
}

AVX512 static inline __m512 mul16(__m512 s, __m512 a, __m512 b)
{
	return _mm512_fmadd_ps(a, b, s);
}

AVX512 static inline __m512 sqd16(__m512 s, __m512 a, __m512 b)
{
	__m512 d = _mm512_sub_ps(a, b);

	return _mm512_fmadd_ps(d, d, s);
}

#define AVX512_KERNEL(name, type, load16, mload16, step16)                                         \
	AVX512 static float name(const float *a, const type *b, size_t n)                          \
	{                                                                                          \
		__m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;                        \
		size_t i = 0;                                                                      \
                                                                                                   \
		for (; i + 64 <= n; i += 64) {                                                     \
			s0 = step16(s0, _mm512_loadu_ps(a + i), load16(b + i));                    \
			s1 = step16(s1, _mm512_loadu_ps(a + i + 16), load16(b + i + 16));          \
			s2 = step16(s2, _mm512_loadu_ps(a + i + 32), load16(b + i + 32));          \
			s3 = step16(s3, _mm512_loadu_ps(a + i + 48), load16(b + i + 48));          \
		}                                                                                  \
		for (; i + 16 <= n; i += 16)                                                       \
			s0 = step16(s0, _mm512_loadu_ps(a + i), load16(b + i));                    \
		if (i < n) {                                                                       \
			__mmask16 m = (__mmask16)((1u << (n - i)) - 1);                            \
			s1 = step16(s1, mload16_f32(m, a + i), mload16(m, b + i));                 \
		}                                                                                  \
		return _mm512_reduce_add_ps(                                                       \
		    _mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));                  \
	}

AVX512_KERNEL(dot_avx512, float, load16_f32, mload16_f32, mul16)
AVX512_KERNEL(l2sq_avx512, float, load16_f32, mload16_f32, sqd16)
AVX512_KERNEL(dot_f16_avx512, uint16_t, load16_f16, mload16_f16, mul16)
AVX512_KERNEL(dot_u8_avx512, uint8_t, load16_u8, mload16_u8, mul16)

static const rag_vec_kernels k_avx512 = {"avx512", dot_avx512, l2sq_avx512, dot_f16_avx512,
                                         dot_u8_avx512, NULL};

/*
 * AVX-512 VNNI: the int8 query against uint8 codes, 64 products an
 * instruction summed in 32-bit lanes (vpdpbusd: uint8 times int8).
 */
#define AVX512VNNI __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))

AVX512VNNI static int32_t dot_s8u8_vnni(const int8_t *t, const uint8_t *c, size_t n)
{
	__m512i s0 = _mm512_setzero_si512(), s1 = s0;
	size_t i = 0;

	for (; i + 128 <= n; i += 128) {
		s0 = _mm512_dpbusd_epi32(s0, _mm512_loadu_si512(c + i), _mm512_loadu_si512(t + i));
		s1 = _mm512_dpbusd_epi32(s1, _mm512_loadu_si512(c + i + 64),
					 _mm512_loadu_si512(t + i + 64));
	}
	if (i + 64 <= n) {
		s0 = _mm512_dpbusd_epi32(s0, _mm512_loadu_si512(c + i), _mm512_loadu_si512(t + i));
		i += 64;
	}
	if (i < n) {
		__mmask64 m = (__mmask64)((1ULL << (n - i)) - 1);
		s1 = _mm512_dpbusd_epi32(s1, _mm512_maskz_loadu_epi8(m, c + i),
					 _mm512_maskz_loadu_epi8(m, t + i));
	}
	return _mm512_reduce_add_epi32(_mm512_add_epi32(s0, s1));
}

static const rag_vec_kernels k_avx512vnni = {"avx512vnni", dot_avx512, l2sq_avx512,
					     dot_f16_avx512, dot_u8_avx512, dot_s8u8_vnni};

#endif /* VEC_X86 */

#ifdef VEC_NEON

/* NEON: four sums of 4 lanes, then 4 at a time, then one at a time. */

static inline float32x4_t load4_f32(const float *p)
{
	return vld1q_f32(p);
}

static inline float32x4_t load4_f16(const uint16_t *p)
{
	return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p)));
}

static inline float32x4_t load4_u8(const uint8_t *p)
{
	uint32_t w;

	memcpy(&w, p, sizeof w); /* exactly four bytes */
	uint16x8_t h = vmovl_u8(vreinterpret_u8_u32(vdup_n_u32(w)));
	return vcvtq_f32_u32(vmovl_u16(vget_low_u16(h)));
}

static inline float32x4_t mul4(float32x4_t s, float32x4_t a, float32x4_t b)
{
	return vfmaq_f32(s, a, b);
}

static inline float32x4_t sqd4(float32x4_t s, float32x4_t a, float32x4_t b)
{
	float32x4_t d = vsubq_f32(a, b);

	return vfmaq_f32(s, d, d);
}

#define NEON_KERNEL(name, type, load4, load1, step4, step1)                                        \
	static float name(const float *a, const type *b, size_t n)                                 \
	{                                                                                          \
		float32x4_t s0 = vdupq_n_f32(0), s1 = s0, s2 = s0, s3 = s0;                        \
		size_t i = 0;                                                                      \
                                                                                                   \
		for (; i + 16 <= n; i += 16) {                                                     \
			s0 = step4(s0, vld1q_f32(a + i), load4(b + i));                            \
			s1 = step4(s1, vld1q_f32(a + i + 4), load4(b + i + 4));                    \
			s2 = step4(s2, vld1q_f32(a + i + 8), load4(b + i + 8));                    \
			s3 = step4(s3, vld1q_f32(a + i + 12), load4(b + i + 12));                  \
		}                                                                                  \
		for (; i + 4 <= n; i += 4)                                                         \
			s0 = step4(s0, vld1q_f32(a + i), load4(b + i));                            \
		float s = vaddvq_f32(vaddq_f32(vaddq_f32(s0, s1), vaddq_f32(s2, s3)));             \
		for (; i < n; i++)                                                                 \
			s = step1(s, a[i], load1(b[i]));                                           \
		return s;                                                                          \
	}

NEON_KERNEL(dot_neon, float, load4_f32, load1_f32, mul4, mul1)
NEON_KERNEL(l2sq_neon, float, load4_f32, load1_f32, sqd4, sqd1)
NEON_KERNEL(dot_f16_neon, uint16_t, load4_f16, half_to_float, mul4, mul1)
NEON_KERNEL(dot_u8_neon, uint8_t, load4_u8, load1_u8, mul4, mul1)

static const rag_vec_kernels k_neon = {"neon", dot_neon, l2sq_neon, dot_f16_neon, dot_u8_neon,
				       NULL};

#endif /* VEC_NEON */

/* Choosing a set */

/*
 * The lists are constant, so that rag_vec_all is safe from any thread
 * whatever rag_cpu_limit says meanwhile.  AVX-512 is listed last as the
 * fastest; a limit may leave it without AVX2, whose instructions it
 * also uses, but a processor with AVX-512 has them.
 */
#if defined(VEC_X86)
static const rag_vec_kernels *const list_f16c[] = {&k_plain, &k_avx2, &k_avx512, &k_avx512vnni};
static const rag_vec_kernels *const list_no_f16c[] = {&k_plain, &k_avx2_no_f16c, &k_avx512,
						      &k_avx512vnni};
static const rag_vec_kernels *const list_avx512[] = {&k_plain, &k_avx512, &k_avx512vnni};
#elif defined(VEC_NEON)
static const rag_vec_kernels *const list_neon[] = {&k_plain, &k_neon};
#endif
static const rag_vec_kernels *const list_plain[] = {&k_plain};

const rag_vec_kernels *const *rag_vec_all(size_t *n)
{
#if defined(VEC_X86)
	int avx512 = rag_cpu_has(RAG_CPU_AVX512), vnni = avx512 && rag_cpu_has(RAG_CPU_VNNI);

	if (rag_cpu_has(RAG_CPU_AVX2)) {
		*n = avx512 ? 3 + vnni : 2;
		return rag_cpu_has(RAG_CPU_F16C) ? list_f16c : list_no_f16c;
	}
	if (avx512) {
		*n = 2 + vnni;
		return list_avx512;
	}
#elif defined(VEC_NEON)
	/* every 64-bit ARM processor has NEON; cpu.h has no feature for it */
	*n = 2;
	return list_neon;
#endif
	*n = 1;
	return list_plain;
}

/* Each list ends with the fastest set; a race only chooses twice. */
static _Atomic(const rag_vec_kernels *) best;

const rag_vec_kernels *rag_vec_best(void)
{
	const rag_vec_kernels *k = atomic_load_explicit(&best, memory_order_relaxed);

	if (!k) {
		size_t n;
		const rag_vec_kernels *const *all = rag_vec_all(&n);
		k = all[n - 1];
		atomic_store_explicit(&best, k, memory_order_relaxed);
	}
	return k;
}

float rag_vec_normalize(float *v, size_t n)
{
	double s = 0;

	for (size_t i = 0; i < n; i++)
		s += (double)v[i] * v[i];
	double len = sqrt(s);
	if (len > 0) {
		double inv = 1 / len;
		for (size_t i = 0; i < n; i++)
			v[i] = (float)(v[i] * inv);
	}
	return (float)len;
}

/* uint8 quantization */

void rag_vec_u8_train(const float *v, size_t count, size_t dim, size_t stride_floats, float *lo,
                      float *scale)
{
	for (size_t i = 0; i < dim; i++) {
		float min = count ? v[i] : 0, max = min;
		for (size_t j = 1; j < count; j++) {
			float x = v[j * stride_floats + i];
			min = x < min ? x : min;
			max = x > max ? x : max;
		}
		float s = (float)(((double)max - min) / 255);
		lo[i] = min;
		scale[i] = s > 0 ? s : 1; /* also for a range too small to divide */
	}
}

void rag_vec_u8_encode(const float *x, size_t dim, const float *lo, const float *scale,
                       uint8_t *code)
{
	for (size_t i = 0; i < dim; i++) {
		double t = ((double)x[i] - lo[i]) / scale[i];
		if (!(t > 0)) /* also NaN */
			code[i] = 0;
		else if (t >= 255)
			code[i] = 255;
		else
			code[i] = (uint8_t)(t + 0.5);
	}
}

void rag_vec_u8_decode(const uint8_t *code, size_t dim, const float *lo, const float *scale,
                       float *x)
{
	for (size_t i = 0; i < dim; i++)
		x[i] = (float)(lo[i] + (double)scale[i] * code[i]);
}

float rag_vec_u8_query_s8(const float *qs, size_t dim, size_t padded, int8_t *t)
{
	float m = 0, a, r;

	for (size_t i = 0; i < dim; i++) {
		float x = fabsf(qs[i]);
		m = x > m ? x : m;
	}
	/* a query too small for 1 / a to be finite counts as zero */
	a = m > FLT_MIN * 127 ? m / 127 : 1;
	r = 1 / a;
	for (size_t i = 0; i < dim; i++) {
		/* |x| <= 127 and a half away from zero: no clamping, no call */
		float x = qs[i] * r;
		x = x > 127 ? 127 : x < -127 ? -127 : x;
		t[i] = (int8_t)(int)(x + (x < 0 ? -0.5f : 0.5f));
	}
	for (size_t i = dim; i < padded; i++)
		t[i] = 0;
	return a;
}

float rag_vec_u8_query(const float *q, size_t dim, const float *lo, const float *scale, float *qs)
{
	double base = 0;

	for (size_t i = 0; i < dim; i++) {
		qs[i] = q[i] * scale[i];
		base += (double)q[i] * lo[i];
	}
	return (float)base;
}
