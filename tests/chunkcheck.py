#!/usr/bin/env python3
"""Checks rag-chunk's output against its documented contract.

Usage: chunkcheck.py DOCS CHUNKS UNIT SIZE OVERLAP [--ndjson] [--text-field F] [--id-field F]

DOCS is an NDJSON file of documents (with --ndjson) or a file of
"path<TAB>doc-id" lines naming plain text files.  CHUNKS is rag-chunk's
output.  Every chunk must:
  - hold exactly the document's bytes between start and end;
  - measure at most SIZE in UNIT (the units as rag-chunk(1) defines them);
  - be non-empty, without white space at either end;
  - have line_start/line_end of its first and last byte;
  - carry id DOC#N with N counting from 1 in order, and the hash the
    manual defines (SHA-256 of the record's text before the hash field);
  - carry every metadata field of its NDJSON document unchanged.
Consecutive chunks of a document advance and share at most OVERLAP;
every byte of a document that is not white space is in some chunk.
Prints nothing and exits 0 when all holds; otherwise prints the problems.
"""
import bisect
import hashlib
import json
import re
import sys

WS = b" \t\n\r\x0b\x0c"


def measure(text, unit):
    if unit == "chars":
        return len(text)
    if unit == "words":
        return len(re.findall(r"[^ \t\n\r\x0b\x0c]+", text))
    total = run = 0
    for ch in text:
        cp = ord(ch)
        if ch in " \t\n\r\x0b\x0c":
            run = 0
        elif (cp < 0x80 and ch.isalnum()) or 0x80 <= cp < 0x2000:
            if run % 4 == 0:
                total += 1
            run += 1
        else:
            run = 0
            total += 1
    return total


def main():
    args = sys.argv[1:]
    ndjson = "--ndjson" in args
    text_field, id_field = "text", "id"
    if "--text-field" in args:
        text_field = args[args.index("--text-field") + 1]
    if "--id-field" in args:
        id_field = args[args.index("--id-field") + 1]
    docs_path, chunks_path, unit, size, overlap = args[0], args[1], args[2], int(args[3]), int(args[4])

    docs, meta = {}, {}
    if ndjson:
        for line in open(docs_path, encoding="utf-8"):
            d = json.loads(line)
            did = str(d[id_field])
            docs[did] = d[text_field].encode("utf-8")
            meta[did] = {k: v for k, v in d.items() if k not in (id_field, text_field)}
    else:
        for line in open(docs_path, encoding="utf-8"):
            path, did = line.rstrip("\n").split("\t")
            docs[did] = open(path, "rb").read()
            meta[did] = {}

    newlines = {}

    def line_of(doc, off):
        if doc not in newlines:
            src = docs[doc]
            newlines[doc] = [i for i in range(len(src)) if src[i] == 10] if b"\n" in src else []
        return bisect.bisect_left(newlines[doc], off) + 1

    problems = []
    by_doc = {}
    for n, raw in enumerate(open(chunks_path, "rb"), 1):
        rec = json.loads(raw)
        where = "chunk line %d (%s)" % (n, rec.get("id"))
        doc = rec["doc"]
        if doc not in docs:
            problems.append("%s: unknown doc %r" % (where, doc))
            continue
        src = docs[doc]
        s, e = rec["start"], rec["end"]
        text = rec["text"]
        if src[s:e] != text.encode("utf-8"):
            problems.append("%s: text is not the document's bytes %d..%d" % (where, s, e))
        if not text or text[0] in " \t\n\r\x0b\x0c" or text[-1] in " \t\n\r\x0b\x0c":
            problems.append("%s: empty, or white space at an end" % where)
        m = measure(text, unit)
        if m > size:
            problems.append("%s: measures %d %s, more than %d" % (where, m, unit, size))
        if rec["line_start"] != line_of(doc, s) or rec["line_end"] != line_of(doc, e - 1):
            problems.append("%s: lines %d..%d are wrong" % (where, rec["line_start"], rec["line_end"]))
        body = raw.rstrip(b"\n")
        cut = body.rfind(b',"hash":"')
        want = hashlib.sha256(body[:cut]).hexdigest()[:32]
        if rec.get("hash") != want or not body.endswith(b'"}'):
            problems.append("%s: hash is not the documented one" % where)
        for k, v in meta[doc].items():
            if k in ("id", "doc", "start", "end", "line_start", "line_end", "text", "hash"):
                continue
            if rec.get(k) != v:
                problems.append("%s: metadata field %r not passed through" % (where, k))
        by_doc.setdefault(doc, []).append(rec)

    for doc, recs in by_doc.items():
        src = docs[doc]
        covered = bytearray(len(src))
        for i, rec in enumerate(recs):
            if rec["id"] != "%s#%d" % (doc, i + 1):
                problems.append("%s: expected id %s#%d" % (rec["id"], doc, i + 1))
            covered[rec["start"]:rec["end"]] = b"\x01" * (rec["end"] - rec["start"])
            if i:
                prev = recs[i - 1]
                if not (rec["start"] >= prev["start"] and rec["end"] > prev["end"]):
                    problems.append("%s: does not advance past %s" % (rec["id"], prev["id"]))
                elif rec["start"] < prev["end"]:
                    shared = src[rec["start"]:prev["end"]].decode("utf-8")
                    if measure(shared, unit) > overlap:
                        problems.append("%s: shares %d %s with %s, more than %d"
                                        % (rec["id"], measure(shared, unit), unit, prev["id"], overlap))
        # Bytes in no chunk must all be white space.
        left = bytes(b for b, c in zip(src, covered) if not c) if 0 in covered else b""
        if left.strip(WS):
            problems.append("%s: %r is in no chunk" % (doc, left.strip(WS)[:40]))
    for doc in docs:
        if doc not in by_doc and docs[doc].strip(WS):
            problems.append("%s: no chunks" % doc)

    for p in problems[:20]:
        print(p)
    if len(problems) > 20:
        print("... and %d more" % (len(problems) - 20))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
