/*
 * vec.h - distance kernels for vector search.
 *
 * Every kernel has a plain C form, always built, and faster forms for
 * AVX2 (with FMA) and AVX-512 on x86-64, and NEON on 64-bit ARM, chosen
 * once at run time from the processor's features (cpu.h).  The faster
 * forms give the same results as the plain one up to the rounding of
 * float sums in another order.  They take vectors at any address, but
 * run up to twice as fast on vectors that start on a 64-byte boundary
 * (no load then straddles two cache lines): a store should lay its
 * vectors out so, and a search align its query.
 *
 * Vectors are float32.  Compact forms, for quantized stores:
 *   - float16 (IEEE binary16, as uint16_t), converted exactly back;
 *   - uint8 codes with a per-dimension offset and scale:
 *     x[i] ~= lo[i] + scale[i] * code[i].
 * A query stays float32; the kernels that read compact vectors take the
 * query already multiplied through (see rag_vec_u8_query), so that one
 * dot product of a float query with uint8 codes serves every metric.
 */
#ifndef RAG_VEC_H
#define RAG_VEC_H

#include <stddef.h>
#include <stdint.h>

/* Distance metrics, as a store records them. */
enum rag_metric {
	RAG_METRIC_COSINE = 0, /* 1 - cos; vectors are normalised when stored */
	RAG_METRIC_IP = 1,     /* the negative inner product */
	RAG_METRIC_L2 = 2      /* the squared Euclidean distance */
};

/* The kernels of one instruction set. */
typedef struct rag_vec_kernels {
	const char *name; /* "plain", "avx2", "avx512", "neon" */
	float (*dot)(const float *a, const float *b, size_t n);
	float (*l2sq)(const float *a, const float *b, size_t n);
	/* sum of q[i] * h[i], h in float16 */
	float (*dot_f16)(const float *q, const uint16_t *h, size_t n);
	/* sum of q[i] * c[i], c in uint8 */
	float (*dot_u8)(const float *q, const uint8_t *c, size_t n);
	/*
	 * The exact integer sum of t[i] * c[i], for a query in int8 (see
	 * rag_vec_u8_query_s8); NULL in a set without a faster form than
	 * dot_u8's.  n at most 65536.
	 */
	int32_t (*dot_s8u8)(const int8_t *t, const uint8_t *c, size_t n);
} rag_vec_kernels;

/* The best kernels this processor runs (honours rag_cpu_limit at the first call). */
const rag_vec_kernels *rag_vec_best(void);
/*
 * Every set built into this program that this processor can run, plain
 * first; *n gets their number.  For tests and benchmarks.
 */
const rag_vec_kernels *const *rag_vec_all(size_t *n);

/* float16 <-> float32, round to nearest even, infinities and NaN kept. */
uint16_t rag_f32_to_f16(float x);
float rag_f16_to_f32(uint16_t h);

/* Scales v[0..n) to unit length; leaves a zero vector alone.  Returns the old length. */
float rag_vec_normalize(float *v, size_t n);

/*
 * uint8 quantization, one offset and scale per dimension.
 *
 * A store trains lo and scale once on a sample, encodes each vector to
 * dim codes, and keeps beside each code the squared length |x|^2 of the
 * decoded vector.  A search calls rag_vec_u8_query once per query; then
 * for each code
 *	q.x = base + dot_u8(qs, code, dim)
 * where base is what rag_vec_u8_query returned, and the metrics follow:
 * IP and cosine from q.x, L2 as |q-x|^2 = |q|^2 + |x|^2 - 2 q.x.
 */

/*
 * Trains on count vectors of dim floats, vector j at v + j * stride_floats:
 * lo[i] gets the least value of dimension i and scale[i] (max - min) / 255,
 * so that the codes 0..255 span the range.  A dimension with one value
 * (or no vectors at all) gets scale 1, which decodes it exactly.  The
 * caller owns lo and scale, dim floats each.
 */
void rag_vec_u8_train(const float *v, size_t count, size_t dim, size_t stride_floats, float *lo,
                      float *scale);

/*
 * Encodes x[0..dim) into code[0..dim): round((x - lo) / scale), clamped to
 * 0..255 (NaN gives 0).  Inside the trained range the decoded value is
 * within scale / 2 of x.
 */
void rag_vec_u8_encode(const float *x, size_t dim, const float *lo, const float *scale,
                       uint8_t *code);

/* Decodes code[0..dim) into x[0..dim): lo + scale * code. */
void rag_vec_u8_decode(const uint8_t *code, size_t dim, const float *lo, const float *scale,
                       float *x);

/*
 * Prepares query q[0..dim) for dot_u8: writes qs[i] = q[i] * scale[i]
 * (the caller owns qs, dim floats) and returns the sum of q[i] * lo[i],
 * so that q.(decoded x) = that sum + dot_u8(qs, code, dim).
 */
float rag_vec_u8_query(const float *q, size_t dim, const float *lo, const float *scale, float *qs);

/*
 * The query of rag_vec_u8_query in int8, for dot_s8u8: t[i] =
 * round(qs[i] / a), where a = max |qs[i]| / 127 is returned, so that
 * dot_u8(qs, code, dim) ~= a * dot_s8u8(t, code, dim), each term within
 * a / 2 * code[i].  t[dim..padded) get 0.  A walk of a graph on uint8
 * codes takes it, the last candidates being measured in float32.
 */
float rag_vec_u8_query_s8(const float *qs, size_t dim, size_t padded, int8_t *t);

#endif
