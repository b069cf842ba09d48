#!/usr/bin/env python3
"""Checks of rag-embed's output for ragkit's tests.

  embedcheck.py vectors OUT IN MODEL DIM [--prefix P] [--field F]
      OUT holds IN's records in order; those with text carry "model": MODEL
      and the provider test server's vector for PREFIX + text (the server
      model's name is MODEL after "provider:"); the others are IN's lines
      byte for byte.  Every other field is as it was.
  embedcheck.py lines OUT
      every line of OUT is a whole JSON object (a failure may cut output
      short, never a record)
  embedcheck.py requests LOG PATH
      prints the number of inputs of each logged request to PATH, one line
      each, in the order received
  embedcheck.py cosine OUT I J
      prints the cosine of the vectors of records I and J of OUT
"""
import importlib.util
import json
import math
import os
import sys

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))


def server():
    spec = importlib.util.spec_from_file_location(
        "provider_server", os.path.join(HERE, "provider-server.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def die(msg):
    print("embedcheck: " + msg, file=sys.stderr)
    sys.exit(1)


def vectors(args):
    out, inp, model, dim = args[0], args[1], args[2], int(args[3])
    prefix, field = "", "text"
    rest = args[4:]
    while rest:
        if rest[0] == "--prefix":
            prefix = rest[1]
        elif rest[0] == "--field":
            field = rest[1]
        rest = rest[2:]
    ps = server()
    name = model.split(":", 1)[1]
    got = open(out, encoding="utf-8").read().splitlines()
    want = [l for l in open(inp, encoding="utf-8").read().splitlines() if l.strip()]
    if len(got) != len(want):
        die("%d records out for %d in" % (len(got), len(want)))
    for n, (g, w) in enumerate(zip(got, want), 1):
        wrec = json.loads(w)
        text = wrec.get(field)
        if not isinstance(text, str) or not text:
            if g != w.strip():
                die("record %d without text was changed: %s" % (n, g))
            continue
        grec = json.loads(g)
        if grec.get("model") != model:
            die("record %d: model %r, not %r" % (n, grec.get("model"), model))
        vec = ps.vector(name, prefix + text, dim)
        v = grec.get("vector")
        if not isinstance(v, list) or len(v) != dim:
            die("record %d: no vector of %d numbers" % (n, dim))
        for a, b in zip(v, vec):
            if abs(a - b) > 1e-6:
                die("record %d: vector %s is not the server's %s" % (n, v[:4], vec[:4]))
        for k, val in wrec.items():
            if k in ("vector", "model"):
                continue
            if grec.get(k) != val:
                die("record %d: field %r changed" % (n, k))
        if list(grec)[-2:] != ["vector", "model"]:
            die("record %d: vector and model are not last" % n)


def lines(args):
    for n, l in enumerate(open(args[0], encoding="utf-8"), 1):
        if not l.endswith("\n"):
            die("line %d has no newline" % n)
        try:
            if not isinstance(json.loads(l), dict):
                die("line %d is not an object" % n)
        except ValueError:
            die("line %d is not JSON: %r" % (n, l[:80]))


def requests(args):
    for l in open(args[0], encoding="utf-8"):
        r = json.loads(l)
        if r["path"] != args[1]:
            continue
        inp = r["body"].get("input") if isinstance(r["body"], dict) else None
        print(len(inp) if isinstance(inp, list) else 1)


def cosine(args):
    recs = [json.loads(l) for l in open(args[0], encoding="utf-8")]
    a, b = recs[int(args[1])]["vector"], recs[int(args[2])]["vector"]
    dot = sum(x * y for x, y in zip(a, b))
    na = math.sqrt(sum(x * x for x in a))
    nb = math.sqrt(sum(x * x for x in b))
    print("%.6f" % (dot / (na * nb) if na and nb else 0.0))


if __name__ == "__main__":
    cmds = {"vectors": vectors, "lines": lines, "requests": requests, "cosine": cosine}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        die("usage: embedcheck.py vectors|lines|requests|cosine ...")
    cmds[sys.argv[1]](sys.argv[2:])
