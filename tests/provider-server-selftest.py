#!/usr/bin/env python3
"""Checks tests/provider-server.py, the fake model provider of ragkit's tests.

Usage: python3 tests/provider-server-selftest.py

Starts the server (several times, with different options) as a subprocess
in a temporary directory and checks each endpoint, each fault kind, the
key check, the log, keep-alive, the port file, and the ways it stops
(SIGTERM, SIGINT, its parent going away).  Prints nothing and exits 0 when
all holds; otherwise prints each failed check and exits 1.  Standard
library only.
"""
import hashlib
import http.client
import importlib.util
import json
import math
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "provider-server.py")
KEY = "sekrit"
AUTH = {"Authorization": "Bearer " + KEY}

sys.dont_write_bytecode = True     # no __pycache__ in the source tree
spec = importlib.util.spec_from_file_location("provider_server", SERVER)
ps = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ps)

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
    return cond


def check_eq(got, want, what):
    return check(got == want, "%s: got %r, want %r" % (what, got, want))


# ---------------------------------------------------------------------------
# Starting and stopping servers

def start(tmp, name, *args, parent=None):
    """Starts a server and returns (process, port, port file)."""
    port_file = os.path.join(tmp, name + ".port")
    cmd = [sys.executable, SERVER, "--port-file", port_file, *args]
    if parent is not None:
        cmd += ["--parent-pid", str(parent)]
    proc = subprocess.Popen(cmd)
    deadline = time.monotonic() + 10
    while not os.path.exists(port_file):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise SystemExit("provider-server: %s did not start" % name)
        time.sleep(0.02)
    with open(port_file) as f:
        text = f.read()
    check(re.fullmatch(r"[1-9][0-9]*\n", text), "port file holds %r" % text)
    check(not os.path.exists(port_file + ".tmp"), "port file's .tmp left behind")
    return proc, int(text), port_file


def exits_within(proc, seconds, what):
    try:
        rc = proc.wait(seconds)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return check(False, "%s: still running after %g s" % (what, seconds))
    return check_eq(rc, 0, "%s: exit status" % what)


# ---------------------------------------------------------------------------
# HTTP clients

class Response:
    def __init__(self, status, headers, body, chunks, complete):
        self.status = status
        self.headers = headers      # lower-cased name -> value
        self.body = body            # bytes
        self.chunks = chunks        # the HTTP chunks, for chunked bodies
        self.complete = complete    # the body ended as its framing says

    def json(self):
        return json.loads(self.body)


def call(port, method, path, body=None, headers=None, conn=None):
    """One request through http.client; body may be an object (sent as
    JSON), bytes, or None.  Returns a Response (chunks left empty)."""
    own = conn is None
    if own:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    if body is not None and not isinstance(body, bytes):
        body = json.dumps(body).encode()
    hdrs = {"Content-Type": "application/json"}
    hdrs.update(headers or {})
    conn.request(method, path, body=body, headers=hdrs)
    r = conn.getresponse()
    data = r.read()
    resp = Response(r.status, {k.lower(): v for k, v in r.getheaders()}, data, [], True)
    if own:
        conn.close()
    return resp


class Raw:
    """A bare socket client that shows the HTTP framing: each chunk of a
    chunked body, and whether the body ended properly."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.file = self.sock.makefile("rb")

    def close(self):
        self.file.close()
        self.sock.close()

    def request(self, method, path, body=b"", headers=None, chunked=None):
        """Sends a request; chunked, a list of bytes, sends the body in
        those chunks instead."""
        if body and not isinstance(body, bytes):
            body = json.dumps(body).encode()
        lines = ["%s %s HTTP/1.1" % (method, path), "Host: 127.0.0.1"]
        for k, v in (headers or {}).items():
            lines.append("%s: %s" % (k, v))
        if chunked is not None:
            lines.append("Transfer-Encoding: chunked")
            payload = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunked) + b"0\r\n\r\n"
        else:
            lines.append("Content-Length: %d" % len(body))
            payload = body
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + payload)
        return self.response()

    def response(self):
        status_line = self.file.readline()
        if not status_line:
            return None
        status = int(status_line.split()[1])
        headers = {}
        while True:
            line = self.file.readline().decode()
            if line in ("\r\n", "\n", ""):
                break
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        chunks, body, complete = [], b"", False
        if headers.get("transfer-encoding") == "chunked":
            while True:
                size_line = self.file.readline()
                if not size_line.endswith(b"\r\n"):
                    break
                size = int(size_line, 16)
                data = self.file.read(size + 2)
                if size == 0:
                    complete = data == b"\r\n"
                    break
                if len(data) < size + 2:
                    chunks.append(data[:size])
                    break
                chunks.append(data[:size])
            body = b"".join(chunks)
        else:
            n = int(headers.get("content-length", "0"))
            body = self.file.read(n)
            complete = len(body) == n
        return Response(status, headers, body, chunks, complete)


def raw(port, *args, **kw):
    c = Raw(port)
    try:
        return c.request(*args, **kw)
    finally:
        c.close()


def control(port, faults):
    return call(port, "POST", "/_control", {"faults": faults}).json()


def reset(port):
    check_eq(call(port, "DELETE", "/_control").status, 200, "DELETE /_control")


def openai_error(message, etype="invalid_request_error", code=None):
    return {"error": {"message": message, "type": etype, "param": None, "code": code}}


def strict_json(data):
    """json.loads that rejects NaN and Infinity, as a strict client would."""
    def reject(token):
        raise ValueError("bare " + token)
    return json.loads(data, parse_constant=reject)


# ---------------------------------------------------------------------------
# The checks

def check_vector():
    # vector() as the docstring specifies it, written out again here.
    def spec_vector(model, text, dim):
        seed = hashlib.sha256((model + "\n" + text).encode()).digest()
        data = b""
        i = 0
        while len(data) < 4 * dim:
            data += hashlib.sha256(seed + struct.pack(">I", i)).digest()
            i += 1
        xs = [struct.unpack(">I", data[4 * k:4 * k + 4])[0] / 2**32 * 2 - 1 for k in range(dim)]
        n = math.sqrt(sum(x * x for x in xs))
        return [round(x / n, 6) for x in xs]

    for model, text, dim in [("m", "hello", 8), ("nomic", "", 3), ("m", "héllo wörld", 20),
                             ("m", "x" * 1000, 100)]:
        v = ps.vector(model, text, dim)
        check_eq(v, ps.vector(model, text, dim), "vector() is deterministic")
        check_eq(v, spec_vector(model, text, dim), "vector(%r, %r, %d)" % (model, text[:10], dim))
        check_eq(len(v), dim, "vector() length")
        check(abs(math.sqrt(sum(x * x for x in v)) - 1) < 1e-5, "vector() is unit length")
        check(all(round(x, 6) == x for x in v), "vector() rounds to 6 places")
    check(ps.vector("m", "a", 8) != ps.vector("m", "b", 8), "vector() depends on the text")
    check(ps.vector("m", "a", 8) != ps.vector("n", "a", 8), "vector() depends on the model")


def check_control(port):
    check_eq(call(port, "GET", "/_health").json(), {"ok": True}, "GET /_health")
    reset(port)
    check_eq(control(port, [{"status": 500}, {"hang": 0}]), {"queued": 2}, "queued count")
    check_eq(control(port, [{"status": 500}]), {"queued": 3}, "queued count grows")
    reset(port)
    check_eq(control(port, []), {"queued": 0}, "DELETE /_control empties the queue")
    check_eq(call(port, "POST", "/_control", {"faults": [{"stauts": 500}]}).status, 400,
             "unknown fault key")
    check_eq(call(port, "POST", "/_control", {"faults": [{"times": 0}]}).status, 400,
             "times 0")
    check_eq(call(port, "POST", "/_control", b"nope").status, 400, "control body not JSON")
    check_eq(call(port, "GET", "/_control").status, 405, "GET /_control")
    check_eq(call(port, "POST", "/_log").status, 405, "POST /_log")


def check_keys(port):
    reset(port)
    body = {"model": "m", "input": "hi"}
    want = openai_error("Incorrect API key provided", code="invalid_api_key")
    r = call(port, "POST", "/v1/embeddings", body)
    check_eq(r.status, 401, "no key: status")
    check_eq(r.json(), want, "no key: body")
    r = call(port, "POST", "/v1/embeddings", body, {"Authorization": "Bearer sekrit2"})
    check_eq(r.status, 401, "wrong key: status")
    r = call(port, "POST", "/v1/embeddings", body, {"Authorization": "bearer sekrit"})
    check_eq(r.status, 401, "key with lower-case bearer")
    r = call(port, "POST", "/v1/chat/completions",
             {"model": "m", "messages": [{"role": "user", "content": "hi"}]})
    check_eq(r.status, 401, "chat without key")
    r = call(port, "POST", "/api/embed", body)
    check_eq(r.status, 200, "Ollama without key")
    # A rejected request leaves the queued fault for the next one.
    control(port, [{"status": 503}])
    call(port, "POST", "/v1/embeddings", body)
    check_eq(call(port, "POST", "/v1/embeddings", body, AUTH).status, 503,
             "a 401 does not use up a fault")


def check_openai_embeddings(port, dim=8, headers=AUTH):
    reset(port)
    r = call(port, "POST", "/v1/embeddings", {"model": "emb", "input": "one two  three"}, headers)
    check_eq(r.status, 200, "/v1/embeddings status")
    check_eq(r.headers.get("content-type"), "application/json", "/v1/embeddings type")
    check_eq(r.json(), {
        "object": "list",
        "data": [{"object": "embedding", "index": 0, "embedding": ps.vector("emb", "one two  three", dim)}],
        "model": "emb",
        "usage": {"prompt_tokens": 3, "total_tokens": 3},
    }, "/v1/embeddings single input")

    inputs = ["alpha", "beta gamma", "", "delta"]
    r = call(port, "POST", "/v1/embeddings",
             {"model": "emb", "input": inputs, "dimensions": 16, "encoding_format": "float"}, headers)
    data = r.json()["data"]
    check_eq([d["index"] for d in data], [0, 1, 2, 3], "/v1/embeddings indexes")
    check_eq([d["embedding"] for d in data], [ps.vector("emb", s, 16) for s in inputs],
             "/v1/embeddings with dimensions")
    check_eq(r.json()["usage"], {"prompt_tokens": 4, "total_tokens": 4}, "/v1/embeddings usage")

    bad = [b"not json", b"[1, 2]", {"input": "x"}, {"model": "emb"}, {"model": "emb", "input": 5},
           {"model": "emb", "input": ["a", 5]}, {"model": "emb", "input": []},
           {"model": "emb", "input": "x", "dimensions": 0}]
    for body in bad:
        r = call(port, "POST", "/v1/embeddings", body, headers)
        check_eq(r.status, 400, "/v1/embeddings bad body %r: status" % (body,))
        got = r.json()
        check(isinstance(got["error"]["message"], str) and got["error"]["message"],
              "/v1/embeddings bad body %r: message" % (body,))
        got["error"]["message"] = ""
        check_eq(got, openai_error(""), "/v1/embeddings bad body %r: envelope" % (body,))


def check_ollama_embed(port, dim=8):
    reset(port)
    r = call(port, "POST", "/api/embed", {"model": "emb", "input": ["a b", "c"], "truncate": True,
                                          "options": {}, "keep_alive": "5m"})
    check_eq(r.status, 200, "/api/embed status")
    check_eq(r.json(), {"model": "emb", "embeddings": [ps.vector("emb", "a b", dim), ps.vector("emb", "c", dim)],
                        "total_duration": 1000, "load_duration": 10, "prompt_eval_count": 3},
             "/api/embed answer")
    r = call(port, "POST", "/api/embed", {"model": "emb", "input": "a", "dimensions": 4})
    check_eq(r.json()["embeddings"], [ps.vector("emb", "a", 4)], "/api/embed with dimensions")
    r = call(port, "POST", "/api/embed", {"model": "missing-model", "input": "a"})
    check_eq(r.status, 404, "/api/embed missing model: status")
    check_eq(r.json(), {"error": "model \"missing-model\" not found, try pulling it first"},
             "/api/embed missing model: body")
    for body in [b"{", {"model": "emb"}, {"model": "emb", "input": []}, {"input": "a"}]:
        r = call(port, "POST", "/api/embed", body)
        check_eq(r.status, 400, "/api/embed bad body %r: status" % (body,))
        check(isinstance(r.json().get("error"), str), "/api/embed bad body %r: error" % (body,))


def chat_body(content="what   is the store's merge policy exactly, and when does it run, and why so?",
              **extra):
    body = {"model": "chat", "messages": [{"role": "system", "content": "be brief"},
                                          {"role": "user", "content": "first question"},
                                          {"role": "assistant", "content": "ok"},
                                          {"role": "user", "content": content}]}
    body.update(extra)
    return body


ECHO = "Echo: what is the store's merge policy exactly, and when does it run, [1]"
PROMPT_WORDS = 2 + 2 + 1 + 15


def sse_events(resp):
    """The data of each event in a text/event-stream response, checking
    that each HTTP chunk holds exactly one event."""
    events = []
    for c in resp.chunks:
        m = re.fullmatch(rb"data: (.*)\n\n", c, re.S)
        if not check(m, "SSE chunk is one event: %r" % c):
            continue
        events.append(m.group(1))
    return events


def check_openai_chat(port):
    reset(port)
    r = call(port, "POST", "/v1/chat/completions", chat_body(temperature=0, max_tokens=10, seed=1), AUTH)
    check_eq(r.status, 200, "chat status")
    n = len(ECHO.split())
    check_eq(r.json(), {
        "id": "chatcmpl-test", "object": "chat.completion", "created": 1700000000, "model": "chat",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": ECHO}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": PROMPT_WORDS, "completion_tokens": n, "total_tokens": PROMPT_WORDS + n},
    }, "chat answer")
    r = call(port, "POST", "/v1/chat/completions", chat_body("short"), AUTH)
    check_eq(r.json()["choices"][0]["message"]["content"], "Echo: short [1]", "chat short echo")
    r = call(port, "POST", "/v1/chat/completions", {"model": "m", "messages": [{"content": "x"}]}, AUTH)
    check_eq(r.status, 400, "chat message without role")
    r = call(port, "POST", "/v1/chat/completions", {"model": "m", "messages": []}, AUTH)
    check_eq(r.status, 400, "chat without messages")

    for include_usage in (True, False):
        body = chat_body(stream=True)
        if include_usage:
            body["stream_options"] = {"include_usage": True}
        r = raw(port, "POST", "/v1/chat/completions", body, AUTH)
        what = "chat stream (usage %s)" % include_usage
        check_eq(r.status, 200, what + ": status")
        check_eq(r.headers.get("content-type"), "text/event-stream", what + ": type")
        check_eq(r.headers.get("transfer-encoding"), "chunked", what + ": chunked")
        check(r.complete, what + ": ends with the zero-length chunk")
        events = sse_events(r)
        check_eq(events[-1], b"[DONE]", what + ": [DONE]")
        objs = [json.loads(e) for e in events[:-1]]
        check_eq(objs[0]["choices"], [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                       "finish_reason": None}], what + ": role chunk")
        for o in objs:
            check_eq({k: o[k] for k in ("id", "object", "created", "model")},
                     {"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 1700000000,
                      "model": "chat"}, what + ": chunk fields")
        if include_usage:
            check_eq(objs[-1]["choices"], [], what + ": usage chunk choices")
            check_eq(objs[-1]["usage"], {"prompt_tokens": PROMPT_WORDS, "completion_tokens": n,
                                         "total_tokens": PROMPT_WORDS + n}, what + ": usage")
            objs.pop()
        else:
            check(all("usage" not in o for o in objs), what + ": no usage")
        check_eq(objs[-1]["choices"], [{"index": 0, "delta": {}, "finish_reason": "stop"}], what + ": finish")
        words = [o["choices"][0]["delta"]["content"] for o in objs[1:-1]]
        check_eq("".join(words), ECHO, what + ": deltas make the answer")
        check_eq(words, [w + " " for w in ECHO.split()[:-1]] + ["[1]"], what + ": one word per delta")


def ndjson_lines(resp, what):
    lines = []
    for c in resp.chunks:
        check(c.endswith(b"\n") and c.count(b"\n") == 1, what + ": chunk is one line: %r" % c)
        lines.append(json.loads(c))
    return lines


def check_ollama_chat(port):
    reset(port)
    n = len(ECHO.split())
    r = call(port, "POST", "/api/chat", chat_body(stream=False, options={"temperature": 0}, format="json"))
    check_eq(r.status, 200, "/api/chat status")
    check_eq(r.json(), {"model": "chat", "created_at": "2023-11-14T00:00:00Z",
                        "message": {"role": "assistant", "content": ECHO}, "done": True,
                        "done_reason": "stop", "total_duration": 1000,
                        "prompt_eval_count": PROMPT_WORDS, "eval_count": n}, "/api/chat answer")
    r = raw(port, "POST", "/api/chat", chat_body())     # streams by default
    what = "/api/chat stream"
    check_eq(r.headers.get("content-type"), "application/x-ndjson", what + ": type")
    check_eq(r.headers.get("transfer-encoding"), "chunked", what + ": chunked")
    check(r.complete, what + ": ends with the zero-length chunk")
    lines = ndjson_lines(r, what)
    check_eq(len(lines), n + 1, what + ": lines")
    for line in lines[:-1]:
        check_eq({k: line[k] for k in ("model", "created_at", "done")},
                 {"model": "chat", "created_at": "2023-11-14T00:00:00Z", "done": False}, what + ": line")
        check_eq(line["message"]["role"], "assistant", what + ": role")
    check_eq("".join(l["message"]["content"] for l in lines[:-1]), ECHO, what + ": words make the answer")
    last = lines[-1]
    check_eq((last["done"], last["done_reason"], last["message"], last["prompt_eval_count"], last["eval_count"]),
             (True, "stop", {"role": "assistant", "content": ""}, PROMPT_WORDS, n), what + ": last line")
    r = call(port, "POST", "/api/chat", {"model": "missing", "messages": [{"role": "user", "content": "x"}]})
    check_eq(r.status, 404, "/api/chat missing model")


def check_routes(port):
    reset(port)
    r = call(port, "POST", "/v1/nothing", {}, AUTH)
    check_eq(r.status, 404, "unknown /v1 path: status")
    check(isinstance(r.json()["error"]["message"], str), "unknown /v1 path: OpenAI envelope")
    r = call(port, "POST", "/api/nothing", {})
    check_eq(r.status, 404, "unknown /api path: status")
    check(isinstance(r.json()["error"], str), "unknown /api path: Ollama envelope")
    check_eq(call(port, "GET", "/").status, 404, "GET /")
    r = call(port, "GET", "/v1/embeddings", None, AUTH)
    check_eq(r.status, 405, "GET /v1/embeddings: status")
    check(isinstance(r.json()["error"]["message"], str), "GET /v1/embeddings: envelope")
    r = call(port, "PUT", "/api/chat", {})
    check_eq(r.status, 405, "PUT /api/chat: status")
    check(isinstance(r.json()["error"], str), "PUT /api/chat: envelope")


def check_keepalive(port):
    reset(port)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    r1 = call(port, "POST", "/v1/embeddings", {"model": "m", "input": "a"}, AUTH, conn=conn)
    sock, local = conn.sock, conn.sock.getsockname()
    r2 = call(port, "POST", "/api/chat", chat_body(stream=False), conn=conn)
    check_eq((r1.status, r2.status), (200, 200), "keep-alive: statuses")
    check(conn.sock is sock and conn.sock.getsockname() == local, "keep-alive: one connection")
    check("content-length" in r1.headers and "content-length" in r2.headers, "keep-alive: Content-Length")
    conn.close()

    # After a stream, an error, and a chunked request on one socket.
    c = Raw(port)
    r1 = c.request("POST", "/v1/chat/completions", chat_body(stream=True), AUTH)
    r2 = c.request("POST", "/v1/embeddings", b"junk", AUTH)
    r3 = c.request("POST", "/api/embed", chunked=[b'{"model": "m", ', b'"input": ["x", ', b'"y"]}'])
    c.close()
    check(r1.complete and r2.complete and r3.complete, "keep-alive after a stream")
    check_eq((r1.status, r2.status, r3.status), (200, 400, 200), "keep-alive after a stream: statuses")
    check_eq(r3.json()["embeddings"], [ps.vector("m", "x", 8), ps.vector("m", "y", 8)], "chunked request body")


def check_status_faults(port):
    reset(port)
    control(port, [{"status": 429, "retry_after": "1"}])
    r = call(port, "POST", "/v1/embeddings", {"model": "m", "input": "a"}, AUTH)
    check_eq(r.status, 429, "429 fault: status")
    check_eq(r.headers.get("retry-after"), "1", "429 fault: Retry-After")
    check_eq(r.json()["error"]["message"], "injected failure 429", "429 fault: message")
    check_eq(set(r.json()["error"]), {"message", "type", "param", "code"}, "429 fault: envelope")
    check_eq(call(port, "POST", "/v1/embeddings", {"model": "m", "input": "a"}, AUTH).status, 200,
             "a fault is used once")

    control(port, [{"status": 503, "message": "overloaded", "path": "/api/chat"}])
    check_eq(call(port, "POST", "/api/embed", {"model": "m", "input": "a"}).status, 200,
             "a fault for another path is left")
    r = call(port, "POST", "/api/chat", chat_body(stream=False))
    check_eq((r.status, r.json(), "retry-after" in r.headers), (503, {"error": "overloaded"}, False),
             "503 fault on /api/chat")

    # times, and a later pathless fault serving other paths meanwhile.
    control(port, [{"status": 500, "times": 2, "path": "/v1/embeddings"}, {"status": 408}])
    statuses = [call(port, "POST", p, b, AUTH).status for p, b in
                [("/v1/embeddings", {"model": "m", "input": "a"}),
                 ("/v1/chat/completions", chat_body()),
                 ("/v1/embeddings", {"model": "m", "input": "a"}),
                 ("/v1/embeddings", {"model": "m", "input": "a"})]]
    check_eq(statuses, [500, 408, 500, 200], "times and paths")

    control(port, [{"status": 400}])
    r = call(port, "POST", "/v1/chat/completions", chat_body(stream=True), AUTH)
    check_eq((r.status, r.json()["error"]["message"]), (400, "injected failure 400"),
             "status fault on a stream request")


def check_hang(port):
    reset(port)
    control(port, [{"hang": 1}])
    t0 = time.monotonic()
    r = call(port, "POST", "/v1/embeddings", {"model": "m", "input": "a"}, AUTH)
    check(time.monotonic() - t0 >= 1, "hang: answer came early")
    check_eq(r.status, 200, "hang: then answers normally")

    # A client that gives up: the server must carry on quietly.
    control(port, [{"hang": 0.5, "status": 500}])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=0.1)
    try:
        call(port, "POST", "/v1/embeddings", {"model": "m", "input": "a"}, AUTH, conn=conn)
        check(False, "hang: the client should have timed out")
    except (socket.timeout, TimeoutError):
        pass
    conn.close()
    time.sleep(0.7)
    check_eq(call(port, "GET", "/_health").status, 200, "hang: alive after the client left")


def check_body_faults(port):
    reset(port)
    control(port, [{"malformed": True}, {"malformed": True}])
    for path, body, headers in [("/v1/embeddings", {"model": "m", "input": "a"}, AUTH),
                                ("/api/chat", chat_body(), {})]:
        r = call(port, "POST", path, body, headers)
        check_eq((r.status, r.headers.get("content-type"), r.body),
                 (200, "application/json", b'{"data": ['), "malformed on " + path)

    inputs = ["a", "b", "c"]
    emb = {"model": "m", "input": inputs}
    vecs = [ps.vector("m", s, 8) for s in inputs]

    def openai(fault):
        control(port, [fault])
        return call(port, "POST", "/v1/embeddings", emb, AUTH)

    def ollama(fault):
        control(port, [fault])
        return call(port, "POST", "/api/embed", emb)

    d = openai({"count_delta": 2}).json()["data"]
    check_eq([x["embedding"] for x in d], vecs + [vecs[-1], vecs[-1]], "count_delta +2 (OpenAI)")
    check_eq([x["index"] for x in d], [0, 1, 2, 3, 4], "count_delta +2 indexes")
    d = openai({"count_delta": -1}).json()["data"]
    check_eq([x["embedding"] for x in d], vecs[:2], "count_delta -1 (OpenAI)")
    check_eq(ollama({"count_delta": 1}).json()["embeddings"], vecs + [vecs[-1]], "count_delta +1 (Ollama)")
    check_eq(ollama({"count_delta": -5}).json()["embeddings"], [], "count_delta -5 (Ollama)")

    d = openai({"dim_delta": 2}).json()["data"]
    check_eq([x["embedding"] for x in d], vecs[:2] + [vecs[2] + [0.0, 0.0]], "dim_delta +2 (OpenAI)")
    check_eq(ollama({"dim_delta": -3}).json()["embeddings"], vecs[:2] + [vecs[2][:5]], "dim_delta -3 (Ollama)")

    for what, r in [("OpenAI", openai({"bad_number": True})), ("Ollama", ollama({"bad_number": True}))]:
        check(re.search(rb"\[NaN, ", r.body), "bad_number (%s): NaN token: %r" % (what, r.body[:80]))
        try:
            strict_json(r.body)
            check(False, "bad_number (%s): body is valid JSON" % what)
        except ValueError:
            pass
        check_eq(r.body.count(b"NaN"), 1, "bad_number (%s): one NaN" % what)

    d = openai({"shuffle": True}).json()["data"]
    check_eq([x["index"] for x in d], [2, 1, 0], "shuffle: order")
    check_eq([x["embedding"] for x in d], vecs[::-1], "shuffle: items keep their index")
    d = openai({"wrong_index": True}).json()["data"]
    check_eq([x["index"] for x in d], [3, 1, 2], "wrong_index")

    # A fault key that does not apply is ignored.
    control(port, [{"shuffle": True, "path": "/api/chat"}])
    check_eq(call(port, "POST", "/api/chat", chat_body(stream=False)).status, 200, "shuffle on chat ignored")


def check_chat_faults(port):
    reset(port)
    n = len(ECHO.split())
    # cut_after on streams.
    for k in (0, 2, n + 3):
        control(port, [{"cut_after": k}])
        r = raw(port, "POST", "/v1/chat/completions", chat_body(stream=True), AUTH)
        events = sse_events(r)
        check(not r.complete, "cut_after %d (OpenAI): no terminating chunk" % k)
        check(b"[DONE]" not in events, "cut_after %d (OpenAI): no [DONE]" % k)
        contents = [json.loads(e)["choices"][0]["delta"].get("content") for e in events[1:]]
        check_eq(len(events), 1 + min(k, n), "cut_after %d (OpenAI): events" % k)
        check(all(contents), "cut_after %d (OpenAI): only content events" % k)
    control(port, [{"cut_after": 3}])
    r = raw(port, "POST", "/api/chat", chat_body())
    lines = ndjson_lines(r, "cut_after (Ollama)")
    check(not r.complete and len(lines) == 3 and not any(l["done"] for l in lines), "cut_after 3 (Ollama)")

    # cut_after on whole answers: half the body, then the close.
    for path, body, headers in [("/v1/chat/completions", chat_body(), AUTH),
                                ("/api/embed", {"model": "m", "input": "a"}, {})]:
        control(port, [{"cut_after": 1}])
        r = raw(port, "POST", path, body, headers)
        length = int(r.headers["content-length"])
        check(not r.complete and len(r.body) == length // 2, "cut_after 1 on %s: half a body" % path)
        control(port, [{"cut_after": 1}])
        try:
            call(port, "POST", path, body, headers)
            check(False, "cut_after 1 on %s: http.client read it all" % path)
        except http.client.IncompleteRead:
            pass

    # stream_error.
    control(port, [{"stream_error": "boom"}])
    r = raw(port, "POST", "/v1/chat/completions", chat_body(stream=True), AUTH)
    events = sse_events(r)
    check(r.complete, "stream_error (OpenAI): the stream ends properly")
    check_eq(len(events), 3, "stream_error (OpenAI): events")
    check_eq(json.loads(events[1])["choices"][0]["delta"], {"content": "Echo: "}, "stream_error (OpenAI): first word")
    check_eq(json.loads(events[-1]), {"error": {"message": "boom", "type": "server_error"}},
             "stream_error (OpenAI): error event")
    control(port, [{"stream_error": "boom"}])
    r = raw(port, "POST", "/api/chat", chat_body())
    lines = ndjson_lines(r, "stream_error (Ollama)")
    check(r.complete, "stream_error (Ollama): the stream ends properly")
    check_eq(lines[-1], {"error": "boom"}, "stream_error (Ollama): error line")
    check_eq(len(lines), 2, "stream_error (Ollama): lines")

    # finish_reason and answer.
    control(port, [{"finish_reason": "length", "answer": "Short  answer [2]"}])
    r = call(port, "POST", "/v1/chat/completions", chat_body(), AUTH).json()
    check_eq((r["choices"][0]["finish_reason"], r["choices"][0]["message"]["content"], r["usage"]["completion_tokens"]),
             ("length", "Short  answer [2]", 3), "finish_reason and answer (OpenAI)")
    control(port, [{"finish_reason": "length", "answer": "Short  answer [2]"}])
    r = raw(port, "POST", "/v1/chat/completions", chat_body(stream=True), AUTH)
    objs = [json.loads(e) for e in sse_events(r)[:-1]]
    check_eq("".join(o["choices"][0]["delta"].get("content", "") for o in objs), "Short  answer [2]",
             "answer (OpenAI stream)")
    check_eq(objs[-1]["choices"][0]["finish_reason"], "length", "finish_reason (OpenAI stream)")
    control(port, [{"finish_reason": "length"}])
    r = call(port, "POST", "/api/chat", chat_body(stream=False)).json()
    check_eq(r["done_reason"], "length", "finish_reason (Ollama)")
    control(port, [{"finish_reason": "length", "answer": "x y"}])
    lines = ndjson_lines(raw(port, "POST", "/api/chat", chat_body()), "answer (Ollama stream)")
    check_eq([l["message"]["content"] for l in lines], ["x ", "y", ""], "answer (Ollama stream)")
    check_eq(lines[-1]["done_reason"], "length", "finish_reason (Ollama stream)")


def check_log(port, log_path):
    reset(port)
    control(port, [{"status": 500, "path": "/api/embed"}])
    call(port, "POST", "/v1/embeddings", {"model": "m", "input": "a"}, {**AUTH, "X-Extra": "1"})
    call(port, "POST", "/api/embed", {"model": "m", "input": "b"})
    call(port, "POST", "/api/chat", b"not json at all")
    call(port, "GET", "/_health")
    log = call(port, "GET", "/_log").json()
    check_eq([(e["method"], e["path"]) for e in log],
             [("POST", "/v1/embeddings"), ("POST", "/api/embed"), ("POST", "/api/chat")], "log: entries")
    if len(log) == 3:
        check_eq(log[0]["headers"].get("authorization"), "Bearer sekrit", "log: header")
        check_eq(log[0]["headers"].get("x-extra"), "1", "log: lower-cased header name")
        check_eq(log[0]["body"], {"model": "m", "input": "a"}, "log: parsed body")
        check("fault" not in log[0], "log: no fault")
        check_eq(log[1].get("fault"), {"status": 500, "path": "/api/embed"}, "log: fault")
        check_eq(log[2]["body"], "not json at all", "log: raw body")
        with open(log_path) as f:
            lines = [json.loads(l) for l in f]
        check_eq(lines[-3:], log, "log file matches /_log")
        check(all("/_" not in e["path"] for e in lines), "log file: no control calls")
    reset(port)
    check_eq(call(port, "GET", "/_log").json(), [], "DELETE /_control clears the log")


def check_sigterm_while_hanging(proc, port):
    """SIGTERM must stop the server at once even with a request hanging."""
    control(port, [{"hang": 30}])
    t = threading.Thread(target=lambda: raw(port, "POST", "/api/embed", {"model": "m", "input": "a"}), daemon=True)
    t.start()
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    exits_within(proc, 2, "SIGTERM")
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        check(False, "SIGTERM: the port still accepts connections")
    except OSError:
        pass


def main():
    check_vector()
    with tempfile.TemporaryDirectory() as tmp:
        log_path = os.path.join(tmp, "requests.log")
        proc, port, _ = start(tmp, "main", "--log", log_path, "--key", KEY, parent=os.getpid())
        try:
            for f in (check_control, check_keys, check_openai_embeddings, check_ollama_embed,
                      check_openai_chat, check_ollama_chat, check_routes, check_keepalive,
                      check_status_faults, check_hang, check_body_faults, check_chat_faults):
                try:
                    f(port)
                except Exception as e:
                    check(False, "%s raised %r" % (f.__name__, e))
            check_log(port, log_path)
            check_sigterm_while_hanging(proc, port)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

        # No --key: no check; --dim sets the default dimension; SIGINT stops it.
        proc, port, _ = start(tmp, "nokey", "--dim", "5")
        try:
            check_openai_embeddings(port, dim=5, headers={})
            proc.send_signal(signal.SIGINT)
            exits_within(proc, 2, "SIGINT")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

        # --parent-pid: the server goes when its parent does.
        parent = subprocess.Popen(["sleep", "60"])
        proc, port, _ = start(tmp, "orphan", parent=parent.pid)
        try:
            time.sleep(0.6)
            check(proc.poll() is None, "--parent-pid: exited while the parent lives")
            parent.kill()
            parent.wait()
            exits_within(proc, 2, "--parent-pid")
        finally:
            for p in (parent, proc):
                if p.poll() is None:
                    p.kill()
                    p.wait()

    for f in failures:
        print("FAIL:", f)
    if failures:
        print("%d check(s) failed" % len(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
