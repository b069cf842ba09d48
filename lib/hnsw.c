/*
 * hnsw.c - HNSW graphs: building, writing, opening, verifying, searching.
 *
 * The graph is the hierarchical navigable small world of Malkov and
 * Yashunin ("Efficient and robust approximate nearest neighbor search
 * using Hierarchical Navigable Small World graphs", 2016).  Every node has
 * a level, drawn at random so that a node reaches level l with probability
 * m^-l; at each of its levels it keeps a short list of neighbours.  A
 * search walks greedily down the sparse upper levels to a good starting
 * point, then runs a beam search at level 0, where every node is.
 *
 * Layout of a graph (the graph section of rag-store(5) copies this).
 * Integers are little-endian, u32 unless said; offsets are in bytes from
 * the start of the graph, which lies at a multiple of 8 in its file.
 *
 *   header, 64 bytes
 *     0  u32 magic, the bytes "HNSW"
 *     4  u32 layout version (1)
 *     8  u32 n, the number of nodes (0..n-1, the records of the segment),
 *        less than 2^31
 *    12  u32 m: a node keeps up to 2m neighbours at level 0, m above
 *    16  u32 the top level (0 when n is 0)
 *    20  u32 the entry point, a node at the top level (0xffffffff when n is 0)
 *    24  u32 U, the number of words in the upper lists
 *    28  u32 reserved, 0
 *    32  u64 offset of the level-0 lists: 64
 *    40  u64 offset of the level table: 64 + 4(2m + 1)n
 *    48  u64 offset of the upper lists: that + 8n
 *    56  u64 size of the graph: that + 4U, rounded up to a multiple of 8
 *   level-0 lists, one of 4(2m + 1) bytes a node, in node order
 *     u32 count c (at most 2m), then 2m slots: c neighbours, then zeros;
 *     node i's list starts at 64 + 4(2m + 1)i
 *   level table, 8 bytes a node, in node order
 *     u32 level L of the node (at most the top level)
 *     u32 W, the word where its upper lists start: the sum of (m + 1)L'
 *         over the nodes before it, L' being their levels
 *   upper lists: for each node with L > 0, its lists at levels 1..L, each
 *   of m + 1 words, the one at level l starting at word W + (l - 1)(m + 1)
 *   of this part
 *     u32 count c (at most m), then m slots: c neighbours, then zeros
 *   zeros up to the size
 *
 * No node is its own neighbour, and a neighbour in a list at level l is a
 * node whose level is at least l.  The entry point is a node whose level
 * is the top level.
 *
 * Building follows the paper: nodes go in one after another (in parallel
 * when there are threads: each list has its own lock, and a global lock is
 * held only to read the entry point, or for the whole insertion of a node
 * that will become the new entry point).  A new node finds its candidates
 * by a beam search of breadth ef_construction at each of its levels, and
 * keeps up to m of them by the paper's heuristic: a candidate, taken
 * nearest first, is kept only if it is nearer to the new node than to
 * every neighbour kept so far.  One addition: a candidate is also dropped
 * when a kept neighbour is as near to it as it is to itself (a copy of
 * it), or a group of equal vectors would fill each other's lists and cut
 * other nodes off.  Each kept neighbour links back to the new node; a list
 * that overflows is cut back by the same heuristic.
 *
 * A search walks greedily down the upper levels, then explores level 0
 * from the node it reached.  Without a filter, the nodes found so far are
 * kept in one sorted array of ef (the pool), and the nearest unexplored
 * one is explored next until none is left; with a filter, in the paper's
 * two heaps, since turned-away nodes must be explored without counting
 * among the ef.  Every count and neighbour number read from the bytes is
 * checked before it is used, so that a damaged graph gives an error.
 * Graphs have fewer than 2^31 nodes: the pool marks explored nodes with
 * the top bit of their number.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "hnsw.h"
#include "le.h"

#define MAGIC 0x57534e48u /* "HNSW" read as a little-endian u32 */
#define LAYOUT_VERSION 1
#define HEADER 64
#define NONE 0xffffffffu
/* Levels above this are cut to it: a node gets there with probability m^-31. */
#define MAX_LEVEL 31

#define PREFETCH(p) __builtin_prefetch(p)
#define INLINE static inline __attribute__((always_inline))

/* A node and its distance, in the heaps and lists of candidates. */
typedef struct item {
	float d;
	uint32_t id;
} item;

/* ---- heaps, sorting and the pool ---- */

/*
 * Two flat binary heaps, for a search with a filter: the candidates still
 * to explore, nearest on top, and the results, farthest on top so that
 * the worst is dropped when a better one comes.  The results order ties
 * by node number, so the same distances always keep the same nodes.
 */
INLINE int worse(item a, item b)
{
	return (a.d > b.d) | ((a.d == b.d) & (a.id > b.id));
}

INLINE void near_push(item *h, size_t *n, item x)
{
	size_t i = (*n)++;

	while (i > 0) {
		size_t up = (i - 1) / 2;
		if (h[up].d <= x.d)
			break;
		h[i] = h[up];
		i = up;
	}
	h[i] = x;
}

/*
 * Takes the top off a heap of n items (n > 0) the way that costs fewest
 * unforeseeable branches: the hole at the top sinks along the better
 * child all the way down, and the last item rises into it from there,
 * which it seldom does far.
 */
INLINE item near_pop(item *h, size_t *n)
{
	item top = h[0], last = h[--*n];
	size_t i = 0, size = *n, c;

	while ((c = 2 * i + 1) + 1 < size) {
		c += h[c + 1].d < h[c].d;
		h[i] = h[c];
		i = c;
	}
	if (c < size) {
		h[i] = h[c];
		i = c;
	}
	while (i > 0 && h[(i - 1) / 2].d > last.d) {
		h[i] = h[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h[i] = last;
	return top;
}

INLINE void far_push(item *h, size_t *n, item x)
{
	size_t i = (*n)++;

	while (i > 0) {
		size_t up = (i - 1) / 2;
		if (!worse(x, h[up]))
			break;
		h[i] = h[up];
		i = up;
	}
	h[i] = x;
}

/* Puts x in place of the top of a heap of n items and sinks it to its place. */
INLINE void far_sink(item *h, size_t n, item x)
{
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= n)
			break;
		if (c + 1 < n && worse(h[c + 1], h[c]))
			c++;
		if (!worse(h[c], x))
			break;
		h[i] = h[c];
		i = c;
	}
	h[i] = x;
}

/* Adds x to the results, which keep at most ef; returns the new bound. */
INLINE float far_add(item *h, size_t *n, size_t ef, item x)
{
	if (*n < ef)
		far_push(h, n, x);
	else
		far_sink(h, *n, x);
	return *n == ef ? h[0].d : INFINITY;
}

/* A float's bits, changed so that unsigned order is the floats' order. */
INLINE uint32_t float_key(float d)
{
	uint32_t u;

	memcpy(&u, &d, sizeof u);
	return u ^ (u >> 31 ? 0xffffffffu : 0x80000000u);
}

/* Sorts a[0..n) nearest first, ties by node number; a run of equal distances is short. */
static void insertion_sort(item *a, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		item x = a[i];
		size_t j = i;
		for (; j > 0 && worse(a[j - 1], x); j--)
			a[j] = a[j - 1];
		a[j] = x;
	}
}

/*
 * Sorts a[0..n) nearest first, ties by node number, with tmp[0..n) to
 * work in: a radix sort on the distances, a byte at a time (skipping the
 * bytes all distances share), then an insertion sort that has only the
 * ties to put in order.
 */
static void sort_items(item *a, size_t n, item *tmp)
{
	uint32_t count[4][256];
	item *src = a, *dst = tmp;

	if (n < 48) {
		insertion_sort(a, n);
		return;
	}
	memset(count, 0, sizeof count);
	for (size_t i = 0; i < n; i++) {
		uint32_t k = float_key(a[i].d);
		for (int p = 0; p < 4; p++)
			count[p][k >> (8 * p) & 255]++;
	}
	for (int p = 0; p < 4; p++) {
		uint32_t *c = count[p], sum = 0;
		if (c[float_key(a[0].d) >> (8 * p) & 255] == n)
			continue;
		for (int b = 0; b < 256; b++) {
			uint32_t t = c[b];
			c[b] = sum;
			sum += t;
		}
		for (size_t i = 0; i < n; i++)
			dst[c[float_key(src[i].d) >> (8 * p) & 255]++] = src[i];
		item *t = src;
		src = dst;
		dst = t;
	}
	if (src != a)
		memcpy(a, src, n * sizeof *a);
	insertion_sort(a, n);
}

/*
 * The pool: the up to ef nearest nodes found so far, in a sorted array,
 * each marked once it has been explored.  A search without a filter
 * explores the nearest unexplored node of the pool until there is none;
 * the pool serves as both heaps of the paper's search, at the cost of a
 * binary search and a short move for each node that enters it.  The mark
 * is the top bit of the node number, which is why a graph has fewer than
 * 2^31 nodes.
 */
#define EXPLORED 0x80000000u

/* Where an item at distance d goes in p[0..len): before every item not nearer. */
INLINE size_t pool_place(const item *p, size_t len, float d)
{
	const item *base = p;

	if (!len)
		return 0;
	while (len > 1) {
		size_t half = len / 2;
		base = base[half - 1].d < d ? base + half : base;
		len -= half;
	}
	return (size_t)(base - p) + (base->d < d);
}

/*
 * Puts x into the pool p[0..*len) of at most ef items, unless it is full
 * and x is no nearer than its last.  Returns where x went, or ef.
 */
INLINE size_t pool_add(item *p, size_t *len, size_t ef, item x)
{
	size_t n = *len, at;

	if (n == ef && !(x.d < p[n - 1].d))
		return ef;
	at = pool_place(p, n, x.d);
	if (n == ef)
		n--;
	else
		(*len)++;
	memmove(p + at + 1, p + at, (n - at) * sizeof *p);
	p[at] = x;
	return at;
}

/* The first unexplored item of the pool at or after from, or len. */
INLINE size_t pool_next(const item *p, size_t len, size_t from)
{
	while (from < len && (p[from].id & EXPLORED))
		from++;
	return from;
}

/* Takes the marks off the pool, which then holds its nodes nearest first, ties by node number. */
static void pool_finish(item *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		p[i].id &= ~EXPLORED;
	insertion_sort(p, len);
}

/* ---- scratch ---- */

struct rag_hnsw_scratch {
	uint32_t n;                         /* nodes the marks cover */
	uint16_t tag;                       /* the mark of the current search */
	uint16_t *marks;                    /* marks[i] == tag: node i was seen by this search */
	item *cand;                         /* n items: the candidates heap, or room to sort in */
	item *res;                          /* n items: the pool, or the results heap */
	uint32_t fresh[2 * RAG_HNSW_MAX_M]; /* the unseen neighbours of a node */
};

rag_hnsw_scratch *rag_hnsw_scratch_new(uint32_t n)
{
	rag_hnsw_scratch *s = calloc(1, sizeof *s);
	size_t size = n ? n : 1;

	if (!s)
		return NULL;
	s->n = n;
	s->marks = calloc(size, sizeof *s->marks);
	s->cand = malloc(size * sizeof *s->cand);
	s->res = malloc(size * sizeof *s->res);
	if (!s->marks || !s->cand || !s->res) {
		rag_hnsw_scratch_free(s);
		return NULL;
	}
	return s;
}

void rag_hnsw_scratch_free(rag_hnsw_scratch *s)
{
	if (!s)
		return;
	free(s->marks);
	free(s->cand);
	free(s->res);
	free(s);
}

/* Makes s cover n nodes.  0, or -1 when memory runs out (s stays as it was). */
static int scratch_fit(rag_hnsw_scratch *s, uint32_t n)
{
	rag_hnsw_scratch *t;

	if (n <= s->n)
		return 0;
	t = rag_hnsw_scratch_new(n);
	if (!t)
		return -1;
	free(s->marks);
	free(s->cand);
	free(s->res);
	*s = *t;
	free(t);
	return 0;
}

/* Starts a search: a new tag, and when the tags wrap, clean marks. */
static uint16_t visit_begin(rag_hnsw_scratch *s)
{
	if (++s->tag == 0) {
		memset(s->marks, 0, (size_t)s->n * sizeof *s->marks);
		s->tag = 1;
	}
	return s->tag;
}

/* ---- building ---- */

/* The graph being built, in memory, with the words it will be written as. */
typedef struct builder {
	uint32_t n, m, cap0, ef; /* nodes, m, 2m, ef_construction */
	rag_hnsw_pair_fn dist;
	rag_hnsw_prefetch_fn prefetch;
	void *ctx;
	uint32_t *l0;                 /* n level-0 lists of 1 + 2m words */
	uint32_t *up;                 /* the upper lists */
	uint32_t *where;              /* per node, the word of up where its lists start */
	unsigned char *level;         /* per node, its level */
	float *self;                  /* per node, its distance to itself */
	uint64_t up_words;            /* words of up */
	_Atomic unsigned char *locks; /* per node, a spin lock; NULL with one thread */
	pthread_mutex_t global;       /* guards entry and top */
	uint32_t entry, top;          /* the entry point and its level */
	_Atomic uint32_t next;        /* the next node to insert */
} builder;

/* One inserting thread's working memory. */
typedef struct worker {
	builder *b;
	rag_hnsw_scratch *s;
	uint32_t *nb; /* a copy of a list being explored */
	item *cut;    /* the neighbours of an overflowing list */
	pthread_t thread;
} worker;

static void node_lock(builder *b, uint32_t i)
{
	unsigned spins = 0;

	if (!b->locks)
		return;
	while (atomic_exchange_explicit(&b->locks[i], 1, memory_order_acquire)) {
		while (atomic_load_explicit(&b->locks[i], memory_order_relaxed))
			if (++spins % 64 == 0)
				sched_yield();
	}
}

static void node_unlock(builder *b, uint32_t i)
{
	if (b->locks)
		atomic_store_explicit(&b->locks[i], 0, memory_order_release);
}

/* The list of node i at level l: a count, then the slots. */
static uint32_t *blist(const builder *b, uint32_t i, unsigned l)
{
	if (l == 0)
		return b->l0 + (size_t)i * (b->cap0 + 1);
	return b->up + b->where[i] + (size_t)(l - 1) * (b->m + 1);
}

/*
 * The neighbours of node i at level l, *count of them: with one thread
 * the list itself, else a copy in nb made under the node's lock.
 */
static const uint32_t *neighbours(builder *b, uint32_t i, unsigned l, uint32_t *nb, uint32_t *count)
{
	const uint32_t *list = blist(b, i, l);

	if (!b->locks) {
		*count = list[0];
		return list + 1;
	}
	node_lock(b, i);
	*count = list[0];
	for (uint32_t j = 0; j < *count; j++)
		nb[j] = list[1 + j];
	node_unlock(b, i);
	return nb;
}

/* splitmix64: a small, good, seedable generator for the levels. */
static uint64_t next_random(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/*
 * Draws the levels, floor(-ln(u) / ln(m)) for u uniform in (0, 1], and
 * places each node's upper lists.  -1 when they would pass the 2^32 words
 * the layout can address.
 */
static int draw_levels(builder *b, uint64_t seed)
{
	double mult = 1 / log((double)b->m);
	uint64_t state = seed, words = 0;

	for (uint32_t i = 0; i < b->n; i++) {
		double u = (double)((next_random(&state) >> 11) + 1) * 0x1p-53;
		double l = -log(u) * mult;
		b->level[i] = l < MAX_LEVEL ? (unsigned char)l : MAX_LEVEL;
		b->where[i] = (uint32_t)words;
		words += (uint64_t)b->level[i] * (b->m + 1);
		if (words > UINT32_MAX)
			return -1;
	}
	b->up_words = words;
	return 0;
}

/*
 * Whether candidate c (at distance c.d from the base node) is served by
 * r, a neighbour already kept: c is nearer to r than to the base node, or
 * r is as near to c as c is to itself (r is a copy of c, and adds no way
 * through the graph that r does not).  Without the second test, a group
 * of identical vectors would fill each other's lists and cut other nodes
 * off.
 */
static int served(const builder *b, item c, uint32_t r)
{
	float d = b->dist(b->ctx, c.id, r);

	return d < c.d || d <= b->self[c.id];
}

/*
 * The paper's neighbour heuristic: of the candidates c[0..nc), nearest
 * first, keeps up to max, each only if no neighbour kept before it serves
 * it.  The kept ones move to the front, in order; returns their number.
 */
static size_t select_neighbours(const builder *b, item *c, size_t nc, size_t max)
{
	size_t kept = 0;

	if (nc <= max)
		return nc;
	for (size_t i = 0; i < nc && kept < max; i++) {
		size_t j = 0;
		while (j < kept && !served(b, c[i], c[j].id))
			j++;
		if (j == kept)
			c[kept++] = c[i];
	}
	return kept;
}

/* Walks greedily at level l from cur towards q; returns the nearest node reached. */
static item greedy(worker *w, uint32_t q, item cur, unsigned l)
{
	builder *b = w->b;

	for (;;) {
		uint32_t count;
		const uint32_t *nb = neighbours(b, cur.id, l, w->nb, &count);
		item best = cur;
		for (uint32_t j = 0; j < count; j++) {
			float d = b->dist(b->ctx, q, nb[j]);
			if (d < best.d)
				best = (item){d, nb[j]};
		}
		if (best.id == cur.id)
			return cur;
		cur = best;
	}
}

/*
 * Marks the neighbours of node i at level l that this search has not
 * seen yet, gathers them in s->fresh and asks for their vectors; returns
 * their number.
 */
static uint32_t gather_build(worker *w, uint32_t i, unsigned l, uint16_t tag)
{
	builder *b = w->b;
	uint16_t *marks = w->s->marks;
	uint32_t *fresh = w->s->fresh, count, nf = 0;
	const uint32_t *nb = neighbours(b, i, l, w->nb, &count);

	for (uint32_t j = 0; j < count; j++) {
		uint32_t v = nb[j];
		fresh[nf] = v;
		nf += marks[v] != tag;
		marks[v] = tag;
	}
	for (uint32_t j = 0; b->prefetch && j < nf; j++)
		b->prefetch(b->ctx, fresh[j]);
	return nf;
}

/*
 * The beam search of insertion at level l, from ep towards q: leaves the
 * up to ef nearest nodes it finds in w->s->res, nearest first, and
 * returns their number.
 */
static size_t beam_build(worker *w, uint32_t q, item ep, unsigned l)
{
	builder *b = w->b;
	rag_hnsw_scratch *s = w->s;
	uint16_t tag = visit_begin(s);
	item *pool = s->res;
	size_t len = 1, at = 0;

	s->marks[q] = tag;
	s->marks[ep.id] = tag;
	pool[0] = ep;
	while (at < len) {
		uint32_t node = pool[at].id;
		pool[at].id |= EXPLORED;
		size_t next = at + 1;
		uint32_t nf = gather_build(w, node, l, tag);
		for (uint32_t j = 0; j < nf; j++) {
			item x = {b->dist(b->ctx, q, s->fresh[j]), s->fresh[j]};
			size_t to = pool_add(pool, &len, b->ef, x);
			next = to < next ? to : next;
		}
		at = pool_next(pool, len, next);
		if (at < len)
			PREFETCH(blist(b, pool[at].id, l));
	}
	pool_finish(pool, len);
	return len;
}

/* Makes q a neighbour of e at level l, cutting e's list back if it is full. */
static void link_back(worker *w, uint32_t e, uint32_t q, float d, unsigned l)
{
	builder *b = w->b;
	uint32_t *list = blist(b, e, l);
	uint32_t cap = l ? b->m : b->cap0;

	node_lock(b, e);
	uint32_t count = list[0];
	if (count < cap) {
		list[1 + count] = q;
		list[0] = count + 1;
	} else {
		item *c = w->cut;
		c[0] = (item){d, q};
		for (uint32_t j = 0; j < count; j++)
			c[j + 1] = (item){b->dist(b->ctx, e, list[1 + j]), list[1 + j]};
		insertion_sort(c, count + 1);
		size_t kept = select_neighbours(b, c, count + 1, cap);
		for (size_t j = 0; j < kept; j++)
			list[1 + j] = c[j].id;
		for (size_t j = kept; j < count; j++)
			list[1 + j] = 0;
		list[0] = (uint32_t)kept;
	}
	node_unlock(b, e);
}

/* Gives q its neighbours sel[0..ns) at level l, and them q. */
static void connect(worker *w, uint32_t q, unsigned l, const item *sel, size_t ns)
{
	builder *b = w->b;
	uint32_t *list = blist(b, q, l);

	node_lock(b, q);
	for (size_t j = 0; j < ns; j++)
		list[1 + j] = sel[j].id;
	list[0] = (uint32_t)ns;
	node_unlock(b, q);
	for (size_t j = 0; j < ns; j++)
		link_back(w, sel[j].id, q, sel[j].d, l);
}

/* Inserts node q into the graph. */
static void insert(worker *w, uint32_t q)
{
	builder *b = w->b;
	unsigned level = b->level[q];
	int raise;

	pthread_mutex_lock(&b->global);
	uint32_t ep = b->entry;
	unsigned top = b->top;
	raise = level > top;
	if (!raise)
		pthread_mutex_unlock(&b->global);
	item cur = {b->dist(b->ctx, q, ep), ep};
	for (unsigned l = top; l > level; l--)
		cur = greedy(w, q, cur, l);
	for (int l = (int)(level < top ? level : top); l >= 0; l--) {
		item *sel = w->s->res;
		size_t nc = beam_build(w, q, cur, (unsigned)l);
		size_t ns = select_neighbours(b, sel, nc, b->m);
		connect(w, q, (unsigned)l, sel, ns);
		cur = sel[0];
	}
	if (raise) {
		b->entry = q;
		b->top = level;
		pthread_mutex_unlock(&b->global);
	}
}

static void *work(void *arg)
{
	worker *w = arg;
	builder *b = w->b;

	for (;;) {
		uint32_t q = atomic_fetch_add_explicit(&b->next, 1, memory_order_relaxed);
		if (q >= b->n)
			break;
		insert(w, q);
	}
	return NULL;
}

static void worker_free(worker *w)
{
	rag_hnsw_scratch_free(w->s);
	free(w->nb);
	free(w->cut);
}

static int worker_init(worker *w, builder *b)
{
	w->b = b;
	w->s = rag_hnsw_scratch_new(b->n);
	w->nb = malloc((b->cap0 + 1) * sizeof *w->nb);
	w->cut = malloc((b->cap0 + 1) * sizeof *w->cut);
	if (!w->s || !w->nb || !w->cut) {
		worker_free(w);
		return -1;
	}
	return 0;
}

/* Inserts nodes 1..n-1 with `threads` threads, this one among them.  -1 when memory runs out. */
static int run_workers(builder *b, unsigned threads)
{
	worker *w = calloc(threads, sizeof *w);
	unsigned made = 0, started = 1;

	if (!w)
		return -1;
	while (made < threads && worker_init(&w[made], b) == 0)
		made++;
	if (made == threads && threads > 1)
		b->locks = calloc(b->n, sizeof *b->locks);
	if (made < threads || (threads > 1 && !b->locks)) {
		for (unsigned i = 0; i < made; i++)
			worker_free(&w[i]);
		free(w);
		return -1;
	}
	while (started < threads &&
	       pthread_create(&w[started].thread, NULL, work, &w[started]) == 0)
		started++;
	work(&w[0]);
	for (unsigned i = 1; i < started; i++)
		pthread_join(w[i].thread, NULL);
	for (unsigned i = 0; i < threads; i++)
		worker_free(&w[i]);
	free(w);
	return 0;
}

/* ---- writing ---- */

/* Where the parts of a graph lie, in bytes from its start. */
typedef struct parts {
	uint64_t levels; /* the level table */
	uint64_t upper;  /* the upper lists */
	uint64_t end;    /* the end of the upper lists */
	uint64_t size;   /* the whole graph, padding included */
} parts;

static parts layout(uint32_t n, uint32_t m, uint64_t up_words)
{
	parts p;

	p.levels = HEADER + (uint64_t)4 * (2 * m + 1) * n;
	p.upper = p.levels + (uint64_t)8 * n;
	p.end = p.upper + 4 * up_words;
	p.size = (p.end + 7) & ~(uint64_t)7;
	return p;
}

/* Writes n words little-endian. */
static void put_words(unsigned char *p, const uint32_t *w, size_t n)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	if (n)
		memcpy(p, w, n * sizeof *w);
#else
	for (size_t i = 0; i < n; i++)
		put32(p + 4 * i, w[i]);
#endif
}

static void put_header(unsigned char *h, const builder *b, parts p)
{
	memset(h, 0, HEADER);
	put32(h, MAGIC);
	put32(h + 4, LAYOUT_VERSION);
	put32(h + 8, b->n);
	put32(h + 12, b->m);
	put32(h + 16, b->top);
	put32(h + 20, b->n ? b->entry : NONE);
	put32(h + 24, (uint32_t)b->up_words);
	put64(h + 32, HEADER);
	put64(h + 40, p.levels);
	put64(h + 48, p.upper);
	put64(h + 56, p.size);
}

static int write_graph(const builder *b, rag_buf *out, rag_error *err)
{
	parts p = layout(b->n, b->m, b->up_words);
	unsigned char *g;

	if (p.size > SIZE_MAX / 2 || rag_buf_grow(out, (size_t)p.size) < 0)
		return rag_error_set(err, RAG_ENOMEM, NULL, 0, "no room for a graph of %llu bytes",
		                     (unsigned long long)p.size);
	g = (unsigned char *)out->data + out->len;
	put_header(g, b, p);
	put_words(g + HEADER, b->l0, (size_t)b->n * (b->cap0 + 1));
	for (uint32_t i = 0; i < b->n; i++) {
		put32(g + p.levels + 8 * (size_t)i, b->level[i]);
		put32(g + p.levels + 8 * (size_t)i + 4, b->where[i]);
	}
	put_words(g + p.upper, b->up, (size_t)b->up_words);
	memset(g + p.end, 0, (size_t)(p.size - p.end));
	out->len += (size_t)p.size;
	out->data[out->len] = '\0';
	return 0;
}

/* ---- build ---- */

/* The parameters with their defaults filled in, or -1 when they are wrong. */
static int fill_params(rag_hnsw_params *d, const rag_hnsw_params *p, rag_error *err)
{
	if (p)
		*d = *p;
	else
		memset(d, 0, sizeof *d);
	if (!d->m)
		d->m = RAG_HNSW_DEFAULT_M;
	if (!d->ef_construction)
		d->ef_construction = RAG_HNSW_DEFAULT_EF_CONSTRUCTION;
	if (!d->threads)
		d->threads = 1;
	if (d->m < 2 || d->m > RAG_HNSW_MAX_M)
		return rag_error_set(err, RAG_EUSAGE, NULL, 0, "hnsw m %u is not between 2 and %u",
		                     d->m, RAG_HNSW_MAX_M);
	return 0;
}

static void builder_free(builder *b)
{
	free(b->l0);
	free(b->up);
	free(b->where);
	free(b->level);
	free(b->self);
	free((void *)b->locks);
}

/* Allocates the lists and draws the levels.  -1 when memory runs out. */
static int builder_init(builder *b, uint32_t n, const rag_hnsw_params *d)
{
	size_t words0 = (size_t)d->m * 2 + 1;

	b->n = n;
	b->m = d->m;
	b->cap0 = 2 * d->m;
	b->ef = d->ef_construction > d->m ? d->ef_construction : d->m;
	b->prefetch = d->prefetch;
	if (n > SIZE_MAX / sizeof(uint32_t) / words0)
		return -1;
	b->l0 = calloc(n ? (size_t)n * words0 : 1, sizeof *b->l0);
	b->where = malloc((n ? n : 1) * sizeof *b->where);
	b->level = malloc(n ? n : 1);
	b->self = malloc((n ? n : 1) * sizeof *b->self);
	if (!b->l0 || !b->where || !b->level || !b->self || draw_levels(b, d->seed) < 0)
		return -1;
	for (uint32_t i = 0; i < n; i++)
		b->self[i] = b->dist(b->ctx, i, i);
	if (b->up_words > SIZE_MAX / sizeof(uint32_t))
		return -1;
	b->up = calloc(b->up_words ? (size_t)b->up_words : 1, sizeof *b->up);
	if (!b->up)
		return -1;
	b->entry = 0;
	b->top = n ? b->level[0] : 0;
	atomic_init(&b->next, 1);
	return 0;
}

int rag_hnsw_build(uint32_t n, rag_hnsw_pair_fn dist, void *ctx, const rag_hnsw_params *p,
                   rag_buf *out, rag_error *err)
{
	rag_hnsw_params d;
	builder b;
	int rc = -1;

	if (fill_params(&d, p, err) < 0)
		return -1;
	if (n > RAG_HNSW_MAX_NODES)
		return rag_error_set(err, RAG_EUSAGE, NULL, 0,
		                     "%u nodes are more than a graph may have", n);
	memset(&b, 0, sizeof b);
	b.dist = dist;
	b.ctx = ctx;
	if (d.threads > n / 64 + 1)
		d.threads = n / 64 + 1; /* a few nodes are not worth a thread */
	if (pthread_mutex_init(&b.global, NULL) != 0) {
		rag_error_set(err, RAG_ENOMEM, NULL, 0, "cannot make a lock for building a graph");
		return -1;
	}
	if (builder_init(&b, n, &d) < 0 || (n > 1 && run_workers(&b, d.threads) < 0))
		rag_error_set(err, RAG_ENOMEM, NULL, 0,
		              "out of memory building a graph of %u nodes", n);
	else
		rc = write_graph(&b, out, err);
	pthread_mutex_destroy(&b.global);
	builder_free(&b);
	return rc;
}

/* ---- opening and verifying ---- */

static int damaged(rag_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Fills *err with "damaged graph: " and the text fmt makes; returns -1. */
static int damaged(rag_error *err, const char *fmt, ...)
{
	char text[RAG_ERROR_TEXT_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	return rag_error_set(err, RAG_EDATA, NULL, 0, "damaged graph: %s", text);
}

/* Checks the fixed words of the header. */
static int check_header(const unsigned char *h, uint32_t n_expected, rag_error *err)
{
	uint32_t n = get32(h + 8), m = get32(h + 12), top = get32(h + 16), entry = get32(h + 20);

	if (get32(h) != MAGIC)
		return damaged(err, "no graph header");
	if (get32(h + 4) != LAYOUT_VERSION)
		return rag_error_set(err, RAG_EDATA, NULL, 0,
		                     "graph layout version %u is not known", get32(h + 4));
	if (n != n_expected)
		return damaged(err, "%u nodes where %u were expected", n, n_expected);
	if (n > RAG_HNSW_MAX_NODES)
		return damaged(err, "%u nodes, more than a graph may have", n);
	if (m < 2 || m > RAG_HNSW_MAX_M)
		return damaged(err, "m is %u", m);
	if (top > MAX_LEVEL || (n == 0 && top != 0))
		return damaged(err, "the top level is %u", top);
	if (n == 0 ? entry != NONE : entry >= n)
		return damaged(err, "the entry point %u is not among %u nodes", entry, n);
	if (get32(h + 28) != 0)
		return damaged(err, "a reserved header word is %u", get32(h + 28));
	return 0;
}

int rag_hnsw_open(rag_hnsw *g, const void *bytes, size_t len, uint32_t n_expected, rag_error *err)
{
	const unsigned char *h = bytes;
	parts p;

	memset(g, 0, sizeof *g);
	if (len < HEADER)
		return damaged(err, "%zu bytes, too few for a header", len);
	if (check_header(h, n_expected, err) < 0)
		return -1;
	g->n = get32(h + 8);
	g->m = get32(h + 12);
	g->top = get32(h + 16);
	g->entry = get32(h + 20);
	g->upper_words = get32(h + 24);
	p = layout(g->n, g->m, g->upper_words);
	if (get64(h + 32) != HEADER || get64(h + 40) != p.levels || get64(h + 48) != p.upper ||
	    get64(h + 56) != p.size)
		return damaged(err, "the offsets of its parts are wrong");
	if (p.size != len)
		return damaged(err, "%llu bytes where the header says %llu",
		               (unsigned long long)len, (unsigned long long)p.size);
	g->stride0 = (size_t)4 * (2 * g->m + 1);
	g->l0 = h + HEADER;
	g->levels = h + p.levels;
	g->upper = h + p.upper;
	if (g->n && get32(g->levels + 8 * (size_t)g->entry) != g->top)
		return damaged(err, "the entry point %u is not at the top level %u", g->entry,
		               g->top);
	return 0;
}

uint32_t rag_hnsw_nodes(const rag_hnsw *g)
{
	return g->n;
}

uint32_t rag_hnsw_m(const rag_hnsw *g)
{
	return g->m;
}

uint32_t rag_hnsw_top_level(const rag_hnsw *g)
{
	return g->top;
}

/* Checks the list of node i at level l; cap is its capacity. */
static int verify_list(const rag_hnsw *g, uint32_t i, uint32_t l, const unsigned char *list,
                       uint32_t cap, rag_error *err)
{
	uint32_t count = get32(list);

	if (count > cap)
		return damaged(err, "node %u has %u neighbours at level %u, more than %u", i, count,
		               l, cap);
	for (uint32_t j = 0; j < count; j++) {
		uint32_t v = get32(list + 4 + 4 * (size_t)j);
		if (v >= g->n)
			return damaged(err, "node %u has a neighbour %u beyond %u nodes", i, v,
			               g->n);
		if (v == i)
			return damaged(err, "node %u is its own neighbour", i);
		if (l && get32(g->levels + 8 * (size_t)v) < l)
			return damaged(err,
			               "node %u has a neighbour %u at level %u, above its level", i,
			               v, l);
	}
	return 0;
}

/* Checks node i's entry in the level table, and its upper lists. */
static int verify_upper(const rag_hnsw *g, uint32_t i, uint64_t *words, rag_error *err)
{
	uint32_t level = get32(g->levels + 8 * (size_t)i);
	uint32_t w = get32(g->levels + 8 * (size_t)i + 4);

	if (level > g->top)
		return damaged(err, "node %u has level %u, above the top level %u", i, level,
		               g->top);
	if (w != *words || *words + (uint64_t)level * (g->m + 1) > g->upper_words)
		return damaged(err, "the upper lists of node %u are out of place", i);
	for (uint32_t l = 1; l <= level; l++) {
		const unsigned char *list = g->upper + 4 * (w + (size_t)(l - 1) * (g->m + 1));
		if (verify_list(g, i, l, list, g->m, err) < 0)
			return -1;
	}
	*words += (uint64_t)level * (g->m + 1);
	return 0;
}

int rag_hnsw_verify(const rag_hnsw *g, rag_error *err)
{
	uint64_t words = 0;

	for (uint32_t i = 0; i < g->n; i++)
		if (verify_list(g, i, 0, g->l0 + i * g->stride0, 2 * g->m, err) < 0)
			return -1;
	for (uint32_t i = 0; i < g->n; i++)
		if (verify_upper(g, i, &words, err) < 0)
			return -1;
	if (words != g->upper_words)
		return damaged(err, "%llu words of upper lists where the levels make %llu",
		               (unsigned long long)g->upper_words, (unsigned long long)words);
	return 0;
}

/* ---- searching ---- */

static int too_many(rag_error *err, uint32_t i, uint32_t count, uint32_t l, uint32_t cap)
{
	return damaged(err, "node %u has %u neighbours at level %u, more than %u", i, count, l,
	               cap);
}

static int beyond(rag_error *err, uint32_t i, uint32_t v, uint32_t n)
{
	return damaged(err, "node %u has a neighbour %u beyond %u nodes", i, v, n);
}

/* The list of node i at level l > 0, or NULL with *err filled when it is out of place. */
static const unsigned char *upper_list(const rag_hnsw *g, uint32_t i, uint32_t l, rag_error *err)
{
	uint32_t level = get32(g->levels + 8 * (size_t)i);
	uint64_t w = get32(g->levels + 8 * (size_t)i + 4);

	if (level < l) {
		damaged(err, "node %u is reached at level %u, above its level %u", i, l, level);
		return NULL;
	}
	if (w + (uint64_t)level * (g->m + 1) > g->upper_words) {
		damaged(err, "the upper lists of node %u are out of place", i);
		return NULL;
	}
	return g->upper + 4 * (w + (uint64_t)(l - 1) * (g->m + 1));
}

/* One greedy walk at level l: moves *cur to the nearest node it reaches. */
static int greedy_level(const rag_hnsw *g, const rag_hnsw_query *q, item *cur, uint32_t l,
                        rag_error *err)
{
	for (;;) {
		const unsigned char *list = upper_list(g, cur->id, l, err);
		if (!list)
			return -1;
		uint32_t count = get32(list);
		if (count > g->m)
			return too_many(err, cur->id, count, l, g->m);
		item best = *cur;
		for (uint32_t j = 0; j < count; j++) {
			uint32_t v = get32(list + 4 + 4 * (size_t)j);
			if (v >= g->n)
				return beyond(err, cur->id, v, g->n);
			float d = q->dist(q->ctx, v);
			if (d < best.d)
				best = (item){d, v};
		}
		if (best.id == cur->id)
			return 0;
		*cur = best;
	}
}

/* Walks down the upper levels from the entry point; *cur gets the node reached at level 1. */
static int descend(const rag_hnsw *g, const rag_hnsw_query *q, item *cur, rag_error *err)
{
	*cur = (item){q->dist(q->ctx, g->entry), g->entry};
	for (uint32_t l = g->top; l > 0; l--)
		if (greedy_level(g, q, cur, l, err) < 0)
			return -1;
	return 0;
}

/*
 * Marks the neighbours of a level-0 list that this search has not seen
 * yet, and gathers them in s->fresh; returns their number, or -1 with
 * *err filled when the list is damaged.  No branch on the marks, which
 * would be taken at random.
 */
static inline long gather(const rag_hnsw *g, uint32_t node, rag_hnsw_scratch *s, uint16_t tag,
                          rag_error *err)
{
	const unsigned char *list = g->l0 + (size_t)node * g->stride0;
	uint32_t count = get32(list), *fresh = s->fresh;
	uint16_t *marks = s->marks;
	long nf = 0;

	if (count > 2 * g->m)
		return too_many(err, node, count, 0, 2 * g->m);
	for (uint32_t j = 1; j <= count; j++) {
		uint32_t v = get32(list + 4 * (size_t)j);
		if (v >= g->n)
			return beyond(err, node, v, g->n);
		fresh[nf] = v;
		nf += marks[v] != tag;
		marks[v] = tag;
	}
	return nf;
}

/*
 * The beam search at level 0 without a filter, from ep: leaves the up to
 * ef nearest nodes it finds in s->res, nearest first; *nres gets their
 * number.  The vectors of a node's new neighbours are asked for before
 * the first distance, and the list of the next node to explore as soon
 * as it is known.
 */
static int beam_all(const rag_hnsw *g, const rag_hnsw_query *q, size_t ef, rag_hnsw_scratch *s,
                    item ep, size_t *nres, rag_error *err)
{
	float (*dist)(void *, uint32_t) = q->dist;
	void (*pf)(void *, uint32_t) = q->prefetch;
	void *ctx = q->ctx;
	const uint16_t tag = visit_begin(s);
	const uint32_t *fresh = s->fresh;
	item *pool = s->res;
	size_t len = 1, at = 0;

	s->marks[ep.id] = tag;
	pool[0] = ep;
	while (at < len) {
		uint32_t node = pool[at].id;
		pool[at].id |= EXPLORED;
		size_t next = at + 1;
		long nf = gather(g, node, s, tag, err);
		if (nf < 0)
			return -1;
		for (long i = 0; pf && i < nf; i++)
			pf(ctx, fresh[i]);
		if (next < len)
			PREFETCH(g->l0 + (size_t)(pool[next].id & ~EXPLORED) * g->stride0);
		for (long i = 0; i < nf; i++) {
			item x = {dist(ctx, fresh[i]), fresh[i]};
			size_t to = pool_add(pool, &len, ef, x);
			if (to < next) {
				next = to;
				PREFETCH(g->l0 + (size_t)x.id * g->stride0);
			}
		}
		at = pool_next(pool, len, next);
	}
	pool_finish(pool, len);
	*nres = len;
	return 0;
}

/*
 * The beam search at level 0 with a filter, from ep: leaves the up to ef
 * nearest nodes that ok accepts in the heap s->res, and returns their
 * number in *nres.  The nodes it turns away still enter the candidates
 * heap s->cand, to be explored, and the search goes on until it holds ef
 * accepted nodes and no candidate is nearer than the farthest of them:
 * the paper's search with two heaps, since the pool would have to hold
 * every node seen until ef of them are accepted.
 */
static int beam_filtered(const rag_hnsw *g, const rag_hnsw_query *q, rag_hnsw_accept_fn ok,
                         void *okctx, size_t ef, rag_hnsw_scratch *s, item ep, size_t *nres,
                         rag_error *err)
{
	float (*dist)(void *, uint32_t) = q->dist;
	void (*pf)(void *, uint32_t) = q->prefetch;
	void *ctx = q->ctx;
	const uint16_t tag = visit_begin(s);
	const uint32_t *fresh = s->fresh;
	item *cand = s->cand, *res = s->res;
	size_t nc = 1, nr = 0;
	float bound = INFINITY;

	s->marks[ep.id] = tag;
	cand[0] = ep;
	if (ok(okctx, ep.id))
		bound = far_add(res, &nr, ef, ep);
	while (nc) {
		item c = near_pop(cand, &nc);
		if (c.d > bound)
			break;
		long nf = gather(g, c.id, s, tag, err);
		if (nf < 0)
			return -1;
		for (long i = 0; pf && i < nf; i++)
			pf(ctx, fresh[i]);
		for (long i = 0; i < nf; i++) {
			item x = {dist(ctx, fresh[i]), fresh[i]};
			if (!(x.d < bound))
				continue;
			near_push(cand, &nc, x);
			PREFETCH(g->l0 + (size_t)cand[0].id * g->stride0);
			if (ok(okctx, x.id))
				bound = far_add(res, &nr, ef, x);
		}
	}
	*nres = nr;
	return 0;
}

/* Measures every node: the k nearest accepted ones go to the results heap; returns their number. */
static size_t exhaustive(const rag_hnsw *g, const rag_hnsw_query *q, rag_hnsw_accept_fn ok,
                         void *okctx, size_t k, rag_hnsw_scratch *s)
{
	size_t nr = 0;
	float bound = INFINITY;

	if (k > g->n)
		k = g->n;
	for (uint32_t i = 0; i < g->n; i++) {
		if (ok && !ok(okctx, i))
			continue;
		item x = {q->dist(q->ctx, i), i};
		if (x.d < bound || (nr < k && x.d == x.d))
			bound = far_add(s->res, &nr, k, x);
	}
	return nr;
}

/* Gives out the first k of the nr results in s->res, which are in order; returns how many. */
static size_t emit(const rag_hnsw_scratch *s, size_t nr, size_t k, rag_hnsw_hit *out)
{
	if (nr > k)
		nr = k;
	for (size_t i = 0; i < nr; i++)
		out[i] = (rag_hnsw_hit){s->res[i].id, s->res[i].d};
	return nr;
}

int rag_hnsw_search(const rag_hnsw *g, const rag_hnsw_query *q, rag_hnsw_accept_fn ok, void *okctx,
                    size_t k, size_t ef, rag_hnsw_scratch *s, rag_hnsw_hit *out, size_t *nout,
                    rag_error *err)
{
	size_t nr = 0;
	item ep;

	*nout = 0;
	if (!g->n || !k)
		return 0;
	if (scratch_fit(s, g->n) < 0)
		return rag_error_set(err, RAG_ENOMEM, NULL, 0,
		                     "out of memory for a search of %u nodes", g->n);
	if (ef < k)
		ef = k;
	if (ef >= g->n) {
		nr = exhaustive(g, q, ok, okctx, k, s);
		sort_items(s->res, nr, s->cand);
	} else if (descend(g, q, &ep, err) < 0) {
		return -1;
	} else if (!ok) {
		if (beam_all(g, q, ef, s, ep, &nr, err) < 0)
			return -1;
	} else {
		if (beam_filtered(g, q, ok, okctx, ef, s, ep, &nr, err) < 0)
			return -1;
		sort_items(s->res, nr, s->cand);
	}
	*nout = emit(s, nr, k, out);
	return 0;
}
