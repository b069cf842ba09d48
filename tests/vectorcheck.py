#!/usr/bin/env python3
"""tests/vectorcheck.py - data and checks for the vector tests (store-vector.sh).

  vectorcheck.py gen N DIM SEED [--cats K] [--model M] [--ids PREFIX]
      N records {"id", "text", "cat", "vector", "model"} with random
      vectors (components in [-1, 1], six decimals), cat = i % K.
  vectorcheck.py queries N DIM SEED
      N queries {"qid", "vector"}.
  vectorcheck.py fvecs BASE.fvecs [--model M]
      the vectors of an .fvecs file as records {"id": "v<i>", "text", "vector"}.
  vectorcheck.py fvecs-queries Q.fvecs
      the vectors of an .fvecs file as queries {"qid": "<i>", "vector"}.
  vectorcheck.py exact RECORDS QUERIES K METRIC [--filter-cat C,C...] [--deleted IDS]
      the exact top K ids of each query by brute force, one JSON list a line.
  vectorcheck.py recall RUN TRUTH K
      the mean recall@K of a run (hits with qid and id) against TRUTH (the
      output of exact, or an .ivecs ground truth with ids v<i>); prints it.
  vectorcheck.py same-top RUN TRUTH K
      exits 1 naming the first query whose top K ids differ from TRUTH's
      as sets (random vectors have no ties).
"""
import json
import math
import random
import struct
import sys


def read_fvecs(path, kind="f"):
    out = []
    with open(path, "rb") as f:
        data = f.read()
    at = 0
    while at < len(data):
        (d,) = struct.unpack_from("<i", data, at)
        at += 4
        out.append(list(struct.unpack_from("<%d%s" % (d, kind), data, at)))
        at += 4 * d
    return out


def gen(a):
    n, dim, seed = int(a[0]), int(a[1]), int(a[2])
    cats = int(opt(a, "--cats", "10"))
    model = opt(a, "--model", "test:random")
    prefix = opt(a, "--ids", "r")
    rnd = random.Random(seed)
    for i in range(n):
        v = [round(rnd.uniform(-1, 1), 6) for _ in range(dim)]
        print(json.dumps({"id": "%s%d" % (prefix, i), "text": "record %d of category %d" % (i, i % cats),
                          "cat": i % cats, "vector": v, "model": model}))


def queries(a):
    n, dim, seed = int(a[0]), int(a[1]), int(a[2])
    rnd = random.Random(seed)
    for i in range(n):
        print(json.dumps({"qid": "q%d" % i, "vector": [round(rnd.uniform(-1, 1), 6) for _ in range(dim)]}))


def fvecs(a):
    model = opt(a, "--model", "sift")
    for i, v in enumerate(read_fvecs(a[0])):
        print(json.dumps({"id": "v%d" % i, "text": "", "vector": v, "model": model}))


def fvecs_queries(a):
    for i, v in enumerate(read_fvecs(a[0])):
        print(json.dumps({"qid": str(i), "vector": v}))


def dist(metric, q, x):
    if metric == "l2":
        return sum((a - b) * (a - b) for a, b in zip(q, x))
    if metric == "ip":
        return -sum(a * b for a, b in zip(q, x))
    nq = math.sqrt(sum(a * a for a in q)) or 1.0
    nx = math.sqrt(sum(a * a for a in x)) or 1.0
    return 1.0 - sum(a * b for a, b in zip(q, x)) / (nq * nx)


def exact_lists(recs, qs, k, metric):
    out = []
    for q in qs:
        scored = sorted((dist(metric, q["vector"], r["vector"]), r["id"]) for r in recs)
        out.append({"qid": q["qid"], "top": [[i, d] for d, i in scored[:k]],
                    "kth": scored[k - 1][0] if len(scored) >= k else None})
    return out


def exact(a):
    recs = [json.loads(l) for l in open(a[0])]
    qs = [json.loads(l) for l in open(a[1])]
    k, metric = int(a[2]), a[3]
    cats = opt(a, "--filter-cat", None)
    if cats is not None:
        keep = {int(c) for c in cats.split(",")}
        recs = [r for r in recs if r.get("cat") in keep]
    gone = opt(a, "--deleted", None)
    if gone is not None:
        gone = set(gone.split(","))
        recs = [r for r in recs if r["id"] not in gone]
    for e in exact_lists(recs, qs, k, metric):
        print(json.dumps(e))


def load_run(path):
    run = {}
    for line in open(path):
        h = json.loads(line)
        run.setdefault(str(h["qid"]), []).append(h["id"])
    return run


def load_truth(path, k):
    if path.endswith(".ivecs"):
        return {str(i): ["v%d" % j for j in row[:k]] for i, row in enumerate(read_fvecs(path, "i"))}
    return {e["qid"]: [t[0] for t in e["top"][:k]] for e in map(json.loads, open(path))}


def recall(a):
    k = int(a[2])
    run, truth = load_run(a[0]), load_truth(a[1], k)
    got = [len(set(run.get(q, [])[:k]) & set(t)) / max(1, len(t)) for q, t in truth.items()]
    print("%.4f" % (sum(got) / max(1, len(got))))


def same_top(a):
    k = int(a[2])
    run = load_run(a[0])
    for e in map(json.loads, open(a[1])):
        want = [t[0] for t in e["top"][:k]]
        have = run.get(e["qid"], [])[:k]
        if set(want) != set(have):
            sys.exit("query %s: top %d %s, exact %s" % (e["qid"], k, have, want))


def opt(a, name, default):
    if name in a:
        return a[a.index(name) + 1]
    return default


if __name__ == "__main__":
    cmds = {"gen": gen, "queries": queries, "fvecs": fvecs, "fvecs-queries": fvecs_queries,
            "exact": exact, "recall": recall, "same-top": same_top}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        sys.exit(__doc__)
    cmds[sys.argv[1]](sys.argv[2:])
