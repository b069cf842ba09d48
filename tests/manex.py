#!/usr/bin/env python3
"""Runs the examples of a man page and checks their output.

Usage: manex.py PAGE FIXTURE_DIR

An example is an .EX/.EE block with lines that start with "$ ": each is a
command (run with bash -o pipefail in a copy of FIXTURE_DIR, one copy per
page, in order), and the lines after it up to the next command are its
exact output.  A command that names a rag- program that is not on PATH
(one that a later version of ragkit adds) is skipped with the rest of its
block, and said so.  Exit status 0 when every example that ran passed.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

ESCAPES = [("\\-", "-"), ("\\(aq", "'"), ("\\(dq", '"'), ("\\(ga", "`"),
           ("\\(mi", "-"), ("\\&", ""), ("\\e", "\\")]


def unroff(line):
    out, i = [], 0
    while i < len(line):
        for k, v in ESCAPES:
            if line.startswith(k, i):
                out.append(v)
                i += len(k)
                break
        else:
            out.append(line[i])
            i += 1
    return "".join(out)


def examples(page):
    blocks, cur = [], None
    for raw in open(page, encoding="utf-8"):
        line = raw.rstrip("\n")
        if line.startswith(".EX"):
            cur = []
        elif line.startswith(".EE"):
            if cur and any(c.startswith("$ ") for c in cur):
                blocks.append(cur)
            cur = None
        elif cur is not None:
            cur.append(unroff(line))
    result = []
    for block in blocks:
        steps = []
        for line in block:
            if line.startswith("$ "):
                steps.append([line[2:], []])
            elif steps:
                steps[-1][1].append(line)
        result.append(steps)
    return result


def main():
    page, fixture = sys.argv[1], sys.argv[2]
    work = tempfile.mkdtemp(prefix="manex.")
    failures = ran = skipped = 0
    try:
        shutil.copytree(fixture, os.path.join(work, "w"))
        cwd = os.path.join(work, "w")
        for steps in examples(page):
            for cmd, want in steps:
                missing = [p for p in set(re.findall(r"\brag-[a-z]+\b", cmd)) if not shutil.which(p)]
                if missing:
                    print("SKIP (%s not built yet): %s" % (", ".join(sorted(missing)), cmd))
                    skipped += 1
                    break
                ran += 1
                p = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], cwd=cwd,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                got = p.stdout.decode("utf-8", "replace").splitlines()
                if p.returncode != 0 or got != want:
                    failures += 1
                    print("FAIL: %s\n  status %d\n  want: %r\n  got:  %r\n  stderr: %s"
                          % (cmd, p.returncode, want, got, p.stderr.decode("utf-8", "replace")[:500]))
    finally:
        shutil.rmtree(work)
    print("%s: %d example commands ran, %d skipped, %d failed"
          % (os.path.basename(page), ran, skipped, failures))
    return 1 if failures or not ran and not skipped else 0


if __name__ == "__main__":
    sys.exit(main())
