/* Tests for lib/vec.c: every kernel set against the plain one, float16, uint8 codes. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cpu.h"
#include "test.h"
#include "vec.h"

static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 32);
}

/* Uniform in [-1, 1). */
static float rnd_float(void)
{
	return (float)((double)rnd() / 2147483648.0 - 1);
}

/* The sizes every set is tried on: all short ones, and long ones around the loops' steps. */
static const size_t long_n[] = {127, 128, 129, 383, 384, 385, 1000, 1537};
#define MAX_N 1537

/* Inputs to the kernels: a and b, b as float16, uint8 codes. */
struct input {
	float *a, *b;
	uint16_t *h;
	uint8_t *c;
};

/* One number for each kernel. */
struct sums {
	double dot, l2sq, dot_f16, dot_u8;
};

static void fill(struct input *in, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		in->a[i] = rnd_float();
		in->b[i] = rnd_float();
		in->h[i] = rag_f32_to_f16(2 * rnd_float());
		in->c[i] = (uint8_t)rnd();
	}
}

/* The exact sums (near enough, in double) and the sums of the terms' magnitudes. */
static void exact(const struct input *in, size_t n, struct sums *s, struct sums *mag)
{
	memset(s, 0, sizeof *s);
	memset(mag, 0, sizeof *mag);
	for (size_t i = 0; i < n; i++) {
		double a = in->a[i], d = a - in->b[i];
		double t[4] = {a * in->b[i], d * d, a * rag_f16_to_f32(in->h[i]), a * in->c[i]};
		s->dot += t[0];
		s->l2sq += t[1];
		s->dot_f16 += t[2];
		s->dot_u8 += t[3];
		mag->dot += fabs(t[0]);
		mag->l2sq += t[1];
		mag->dot_f16 += fabs(t[2]);
		mag->dot_u8 += fabs(t[3]);
	}
}

/* Float sums in another order differ by far less than this. */
static double tol(double mag)
{
	return 2e-5 * mag + 1e-6;
}

/* Checks one set on one input against the exact sums and the plain set. */
static void check_set(const rag_vec_kernels *k, const struct input *in, size_t n)
{
	size_t count;
	const rag_vec_kernels *p = rag_vec_all(&count)[0];
	struct sums s, mag;

	exact(in, n, &s, &mag);
	CHECK_NEAR(k->dot(in->a, in->b, n), s.dot, tol(mag.dot));
	CHECK_NEAR(k->l2sq(in->a, in->b, n), s.l2sq, tol(mag.l2sq));
	CHECK_NEAR(k->dot_f16(in->a, in->h, n), s.dot_f16, tol(mag.dot_f16));
	CHECK_NEAR(k->dot_u8(in->a, in->c, n), s.dot_u8, tol(mag.dot_u8));
	CHECK_NEAR(k->dot(in->a, in->b, n), p->dot(in->a, in->b, n), tol(mag.dot));
	CHECK_NEAR(k->l2sq(in->a, in->b, n), p->l2sq(in->a, in->b, n), tol(mag.l2sq));
	CHECK_NEAR(k->dot_f16(in->a, in->h, n), p->dot_f16(in->a, in->h, n), tol(mag.dot_f16));
	CHECK_NEAR(k->dot_u8(in->a, in->c, n), p->dot_u8(in->a, in->c, n), tol(mag.dot_u8));
	/* the sums are symmetric, and the squared distance of a vector to itself is 0 */
	CHECK_NEAR(k->dot(in->b, in->a, n), k->dot(in->a, in->b, n), tol(mag.dot));
	CHECK(k->l2sq(in->a, in->a, n) == 0);
}

/*
 * Every set on every length from 0 to 70 and some long ones, with the
 * vectors at an address 64-byte aligned and one element past it.
 */
static void sets_agree(void)
{
	size_t count;
	const rag_vec_kernels *const *all = rag_vec_all(&count);
	static _Alignas(64) float a[MAX_N + 16];
	static _Alignas(64) float b[MAX_N + 16];
	static _Alignas(64) uint16_t h[MAX_N + 32];
	static _Alignas(64) uint8_t c[MAX_N + 64];

	CHECK(count >= 1);
	CHECK_STR(all[0]->name, "plain");
	printf("vec: tested");
	for (size_t k = 0; k < count; k++)
		printf(" %s", all[k]->name);
	printf("\n");
	fflush(stdout);
	for (size_t k = 0; k < count; k++) {
		for (size_t j = 0; j < 71 + sizeof long_n / sizeof long_n[0]; j++) {
			size_t n = j < 71 ? j : long_n[j - 71];
			for (size_t off = 0; off < 2; off++) {
				struct input in = {a + off, b + off, h + off, c + off};
				fill(&in, n);
				check_set(all[k], &in, n);
			}
		}
	}
}

/* n elements of size bytes ending where an unreadable page starts, or NULL. */
static void *before_guard(size_t n, size_t size, void **map, size_t *len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), bytes = (n * size + page - 1) / page * page;

	*len = bytes + page;
	*map = mmap(NULL, *len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (*map == MAP_FAILED)
		return NULL;
	if (mprotect((char *)*map + bytes, page, PROT_NONE) != 0) {
		munmap(*map, *len);
		return NULL;
	}
	return (char *)*map + bytes - n * size;
}

/* No kernel reads past element n: the next byte is on a page that faults. */
static void no_read_past_end(void)
{
	size_t count;
	const rag_vec_kernels *const *all = rag_vec_all(&count);
	void *map[4];
	size_t len[4];

	for (size_t j = 0; j < 71 + sizeof long_n / sizeof long_n[0]; j++) {
		size_t n = j < 71 ? j : long_n[j - 71];
		struct input in = {
		    before_guard(n, 4, &map[0], &len[0]), before_guard(n, 4, &map[1], &len[1]),
		    before_guard(n, 2, &map[2], &len[2]), before_guard(n, 1, &map[3], &len[3])};
		CHECK(in.a && in.b && in.h && in.c);
		if (!(in.a && in.b && in.h && in.c))
			return;
		fill(&in, n);
		for (size_t k = 0; k < count; k++)
			check_set(all[k], &in, n);
		for (int m = 0; m < 4; m++)
			munmap(map[m], len[m]);
	}
}

/* The value of half h by its definition, in double. */
static double half_value(uint16_t h)
{
	int e = h >> 10 & 0x1f, m = h & 0x3ff;
	double v = e ? ldexp(1024 + m, e - 25) : ldexp(m, -24);

	return h & 0x8000 ? -v : v;
}

static int half_is_nan(uint16_t h)
{
	return (h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0;
}

/* Every half converts to its value and back to itself; NaNs stay NaN. */
static void f16_every_value(void)
{
	int bad_value = 0, bad_trip = 0;

	for (uint32_t i = 0; i < 65536; i++) {
		uint16_t h = (uint16_t)i;
		float f = rag_f16_to_f32(h);
		if (half_is_nan(h)) {
			bad_value += !isnan(f);
			bad_trip += !half_is_nan(rag_f32_to_f16(f));
			continue;
		}
		if ((h & 0x7fff) == 0x7c00)
			bad_value += !(isinf(f) && (f < 0) == (h >> 15));
		else
			bad_value += (double)f != half_value(h) || !signbit(f) != !(h >> 15);
		bad_trip += rag_f32_to_f16(f) != h;
	}
	CHECK_EQ(bad_value, 0);
	CHECK_EQ(bad_trip, 0);
}

static void f16_known(void)
{
	CHECK_EQ(rag_f32_to_f16(1.0f), 0x3c00);
	CHECK_EQ(rag_f32_to_f16(-2.0f), 0xc000);
	CHECK_EQ(rag_f32_to_f16(0.0f), 0x0000);
	CHECK_EQ(rag_f32_to_f16(-0.0f), 0x8000);
	CHECK_EQ(rag_f32_to_f16(65504.0f), 0x7bff);
	CHECK_EQ(rag_f32_to_f16(65519.99f), 0x7bff);
	CHECK_EQ(rag_f32_to_f16(65520.0f), 0x7c00);
	CHECK_EQ(rag_f32_to_f16(-1e10f), 0xfc00);
	CHECK_EQ(rag_f32_to_f16(INFINITY), 0x7c00);
	CHECK_EQ(rag_f32_to_f16(-INFINITY), 0xfc00);
	CHECK(half_is_nan(rag_f32_to_f16(NAN)));
	CHECK(half_is_nan(rag_f32_to_f16(-NAN)));
	/* a NaN whose payload is all below what a half keeps */
	uint32_t u = 0x7f800001u;
	float snan;
	memcpy(&snan, &u, sizeof snan);
	CHECK(half_is_nan(rag_f32_to_f16(snan)));
	CHECK(isnan(rag_f16_to_f32(0x7c01)));
	CHECK(isinf(rag_f16_to_f32(0x7c00)));
	CHECK(rag_f16_to_f32(0x3c00) == 1.0f);
	CHECK(rag_f16_to_f32(0x7bff) == 65504.0f);
	/* subnormals: the least is 2^-24; 2^-25 is a tie, to even 0 */
	CHECK(rag_f16_to_f32(0x0001) == 0x1p-24f);
	CHECK_EQ(rag_f32_to_f16(0x1p-24f), 0x0001);
	CHECK_EQ(rag_f32_to_f16(0x1p-25f), 0x0000);
	CHECK_EQ(rag_f32_to_f16(0x1.000002p-25f), 0x0001);
	CHECK_EQ(rag_f32_to_f16(0x1.8p-24f), 0x0002);          /* 1.5 units: tie, to even 2 */
	CHECK_EQ(rag_f32_to_f16(0x1.4p-23f), 0x0002);          /* 2.5 units: tie, to even 2 */
	CHECK_EQ(rag_f32_to_f16(0x1p-14f - 0x1p-25f), 0x0400); /* up to the least normal */
	CHECK_EQ(rag_f32_to_f16(1e-30f), 0x0000);
	/* ties between normals go to the even one */
	CHECK_EQ(rag_f32_to_f16(1.0f + 0x1p-11f), 0x3c00);
	CHECK_EQ(rag_f32_to_f16(1.0f + 0x3p-11f), 0x3c02);
	CHECK_EQ(rag_f32_to_f16(2.0f - 0x1p-12f), 0x4000); /* carries into the exponent */
}

/*
 * On random floats from 2^-30 to 2^17, the half is the nearest one (ties
 * to even), and within 2^-11 relative or 2^-25 absolute.
 */
static void f16_random(void)
{
	int bad = 0;

	for (int r = 0; r < 1000000; r++) {
		uint32_t u = (rnd() & 0x807fffffu) | (uint32_t)(127 - 30 + rnd() % 48) << 23;
		float x;
		memcpy(&x, &u, sizeof x);
		uint16_t h = rag_f32_to_f16(x), m = h & 0x7fff;
		double ax = fabs(x);
		if ((h >> 15) != (u >> 31)) {
			bad++;
			continue;
		}
		if (ax >= 65520) {
			bad += m != 0x7c00;
			continue;
		}
		double d = fabs(ax - half_value(m));
		bad += m >= 0x7c00 || d > ldexp(ax, -11) + 0x1p-25;
		if (m > 0 && fabs(ax - half_value(m - 1)) <= d)
			bad += fabs(ax - half_value(m - 1)) < d || (m & 1);
		if (m < 0x7bff && fabs(ax - half_value(m + 1)) <= d)
			bad += fabs(ax - half_value(m + 1)) < d || (m & 1);
	}
	CHECK_EQ(bad, 0);
}

static void normalize(void)
{
	float v[5] = {3, 0, -4, 0, 0}, z[3] = {0, 0, 0};

	CHECK_NEAR(rag_vec_normalize(v, 5), 5, 1e-6);
	CHECK_NEAR(v[0], 0.6, 1e-7);
	CHECK_NEAR(v[2], -0.8, 1e-7);
	CHECK(v[1] == 0);
	CHECK(rag_vec_normalize(z, 3) == 0);
	CHECK(z[0] == 0 && z[1] == 0 && z[2] == 0);
	CHECK(rag_vec_normalize(v, 0) == 0);
}

#define U8_COUNT 200
#define U8_DIM 37
#define U8_STRIDE 40

/* Codes decode to within half a step, and the query's identity gives the dot product. */
static void u8_codes(void)
{
	static float v[U8_COUNT * U8_STRIDE];
	float lo[U8_DIM], scale[U8_DIM], hi[U8_DIM], x[U8_DIM], q[U8_DIM], qs[U8_DIM];
	uint8_t code[U8_DIM];
	size_t count;
	const rag_vec_kernels *const *all = rag_vec_all(&count);

	for (size_t j = 0; j < U8_COUNT; j++)
		for (size_t i = 0; i < U8_STRIDE; i++)
			v[j * U8_STRIDE + i] = i == 5 ? 0.25f : (float)(i + 1) * rnd_float();
	rag_vec_u8_train(v, U8_COUNT, U8_DIM, U8_STRIDE, lo, scale);
	for (size_t i = 0; i < U8_DIM; i++) {
		hi[i] = lo[i];
		for (size_t j = 0; j < U8_COUNT; j++) {
			float t = v[j * U8_STRIDE + i];
			CHECK(t >= lo[i]);
			hi[i] = t > hi[i] ? t : hi[i];
		}
		CHECK(scale[i] > 0);
		if (i != 5)
			CHECK_NEAR(lo[i] + 255 * scale[i], hi[i], 1e-5 * (i + 1));
	}
	CHECK(lo[5] == 0.25f);
	for (size_t j = 0; j < U8_COUNT; j++) {
		const float *y = v + j * U8_STRIDE;
		rag_vec_u8_encode(y, U8_DIM, lo, scale, code);
		rag_vec_u8_decode(code, U8_DIM, lo, scale, x);
		for (size_t i = 0; i < U8_DIM; i++)
			CHECK_NEAR(x[i], y[i], scale[i] / 2 * (1 + 1e-5) + 1e-6);
		CHECK(x[5] == 0.25f);
		for (size_t i = 0; i < U8_DIM; i++)
			q[i] = rnd_float();
		float base = rag_vec_u8_query(q, U8_DIM, lo, scale, qs);
		double want = 0, mag = 0;
		for (size_t i = 0; i < U8_DIM; i++) {
			want += (double)q[i] * x[i];
			mag += fabs((double)q[i] * lo[i]) + fabs((double)qs[i] * code[i]);
		}
		for (size_t k = 0; k < count; k++)
			CHECK_NEAR(base + all[k]->dot_u8(qs, code, U8_DIM), want, tol(mag));
	}
	/* out of range: clamped */
	for (size_t i = 0; i < U8_DIM; i++)
		x[i] = i % 3 == 0 ? lo[i] - 1 : i % 3 == 1 ? hi[i] + 1 : NAN;
	rag_vec_u8_encode(x, U8_DIM, lo, scale, code);
	for (size_t i = 0; i < U8_DIM; i++)
		CHECK_EQ(code[i], i % 3 == 1 ? 255 : 0);
	/* no vectors at all: decoding still works */
	rag_vec_u8_train(v, 0, U8_DIM, U8_STRIDE, lo, scale);
	CHECK(lo[0] == 0 && scale[0] > 0);
}

/* rag_cpu_limit removes sets from the list; AVX2 without F16C reads float16 in plain C. */
static void limits(void)
{
	size_t n;
	const rag_vec_kernels *const *all;
	int avx2 = rag_cpu_has(RAG_CPU_AVX2);

	rag_cpu_limit(0);
	all = rag_vec_all(&n);
	CHECK_STR(all[0]->name, "plain");
	for (size_t k = 1; k < n; k++) /* NEON has no feature to take away */
		CHECK_STR(all[k]->name, "neon");
	if (avx2) {
		rag_cpu_limit(RAG_CPU_AVX2);
		all = rag_vec_all(&n);
		CHECK_EQ(n, 2);
		CHECK_STR(all[1]->name, "avx2");
		CHECK(all[1]->dot_f16 == all[0]->dot_f16);
	}
	rag_cpu_limit(~0u);
	all = rag_vec_all(&n);
	if (rag_cpu_has(RAG_CPU_AVX512 | RAG_CPU_VNNI)) {
		CHECK_STR(all[n - 1]->name, "avx512vnni");
		CHECK_STR(all[n - 2]->name, "avx512");
		CHECK(all[n - 1]->dot_s8u8 != NULL);
		rag_cpu_limit(~(unsigned)RAG_CPU_VNNI);
		CHECK_STR(rag_vec_all(&n)[n - 1]->name, "avx512");
		rag_cpu_limit(~0u);
		all = rag_vec_all(&n);
	} else if (rag_cpu_has(RAG_CPU_AVX512)) {
		CHECK_STR(all[n - 1]->name, "avx512");
	}
	if (avx2)
		CHECK_STR(all[1]->name, "avx2");
	CHECK(rag_vec_best() == all[n - 1]);
	CHECK(rag_vec_best() == all[n - 1]);
}

/* The integer kernels against exact sums, at every length near a step and at the extremes. */
static void s8u8(void)
{
	static int8_t t[65536 + 64];
	static uint8_t c[65536 + 64];
	static const size_t lens[] = {0, 1, 3, 63, 64, 65, 127, 128, 129, 191, 300, 384, 1000, 65536};
	size_t count;
	const rag_vec_kernels *const *all = rag_vec_all(&count);

	for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
		size_t n = lens[li];
		for (int extreme = 0; extreme < 3; extreme++) {
			int64_t want = 0;
			for (size_t i = 0; i < n + 64; i++) {
				t[i] = extreme == 1 ? 127 : extreme == 2 ? -127 : (int8_t)(rnd() % 255 - 127);
				c[i] = extreme ? 255 : (uint8_t)rnd();
				if (i < n)
					want += (int64_t)t[i] * c[i];
			}
			for (size_t k = 0; k < count; k++)
				if (all[k]->dot_s8u8)
					CHECK_EQ(all[k]->dot_s8u8(t, c, n), want);
		}
	}
	/* the int8 query: within half a step of the float one, padded with zeros */
	float qs[100];
	for (size_t i = 0; i < 100; i++)
		qs[i] = rnd_float() * (float)(i + 1);
	qs[7] = -150.5f; /* the largest in magnitude: -127 */
	float a = rag_vec_u8_query_s8(qs, 100, 128, t);
	CHECK_NEAR(a, 150.5f / 127, 1e-6);
	CHECK_EQ(t[7], -127);
	for (size_t i = 0; i < 100; i++)
		CHECK_NEAR(a * t[i], qs[i], a / 2 * (1 + 1e-5));
	for (size_t i = 100; i < 128; i++)
		CHECK_EQ(t[i], 0);
	for (size_t i = 0; i < 100; i++)
		qs[i] = 0;
	CHECK(rag_vec_u8_query_s8(qs, 100, 100, t) > 0);
	CHECK_EQ(t[3], 0);
}

int main(void)
{
	RUN(sets_agree);
	RUN(no_read_past_end);
	RUN(f16_every_value);
	RUN(f16_known);
	RUN(f16_random);
	RUN(normalize);
	RUN(u8_codes);
	RUN(s8u8);
	RUN(limits);
	return test_summary();
}
