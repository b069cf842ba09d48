#!/usr/bin/env python3
"""A fake model provider for ragkit's tests.

ragkit's shell tests point the programs that call embedding and chat
models at this server instead of a real provider.  It speaks the two wire
dialects the programs support -- OpenAI-compatible (/v1/...) and Ollama
(/api/...) -- answers deterministically, records every request, and can be
told to misbehave in the ways real providers do.  Python 3 standard
library only.

Running
-------
    python3 tests/provider-server.py --port-file FILE [--log FILE]
            [--dim N] [--key KEY] [--parent-pid PID] [--times FILE]

  --port-file FILE  The server binds 127.0.0.1 on a port the kernel picks,
                    and once it is listening writes "PORT\\n" to FILE
                    (through FILE.tmp and a rename, so a reader never sees
                    half of it).  Tests wait for the file to appear.
  --log FILE        Append each API request as one JSON line (see Log).
  --dim N           Embedding dimension when a request does not give
                    "dimensions" (default 8).
  --key KEY         The /v1/ endpoints then require the header
                    "Authorization: Bearer KEY" exactly, and answer 401
                    otherwise.  The Ollama endpoints never check keys.
  --parent-pid PID  Exit when that process is gone (checked every 0.5 s),
                    so a test that crashes never leaves a server behind.
  --times FILE      Append "START END\\n" (wall-clock seconds) for each API
                    request, from when its body has been read until its
                    answer has been written: the server's own time, for
                    scripts/bench/embed.

SIGTERM or SIGINT stops the server promptly with exit status 0, even while
requests are in progress (they run in daemon threads).  The server speaks
HTTP/1.1 with keep-alive: every response that is not a stream carries
Content-Length; streams use chunked transfer encoding.  Request bodies may
be sent with Content-Length or chunked.

Embeddings
----------
vector(model, text, dim) is the embedding of text under model:

    seed   = SHA-256(UTF-8(model + "\\n" + text))
    stream = SHA-256(seed + be32(0)) + SHA-256(seed + be32(1)) + ...
    u_i    = the i-th 4 bytes of stream as a big-endian uint32, i < dim
    x_i    = u_i / 2**32 * 2 - 1
    result = x / |x|, each component rounded to 6 decimal places

It returns the rounded components, exactly the numbers the server writes,
so a test can compare them with == after parsing the JSON.  The file's
name has a hyphen, so load it through importlib:

    import importlib.util, sys
    sys.dont_write_bytecode = True      # keep tests/ free of __pycache__
    spec = importlib.util.spec_from_file_location("provider_server", PATH)
    ps = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ps)
    ps.vector("m", "hello", 8)

Endpoints (POST, JSON bodies)
-----------------------------
Word counts below are len(text.split()): whitespace-separated words.

/v1/embeddings   {"model", "input": str or [str], "dimensions"?,
                 "encoding_format"?: "float"}
    -> {"object": "list", "data": [{"object": "embedding", "index": i,
       "embedding": [...]}...], "model", "usage": {"prompt_tokens": T,
       "total_tokens": T}}, T = the words of all inputs.
/api/embed       {"model", "input": str or [str], "dimensions"?,
                 "truncate"?, "options"?, "keep_alive"?}
    -> {"model", "embeddings": [[...]...], "total_duration": 1000,
       "load_duration": 10, "prompt_eval_count": T}
/v1/chat/completions  {"model", "messages": [{"role", "content"}...],
                 "stream"?, "stream_options"?: {"include_usage"}, ...}
/api/chat        {"model", "messages", "stream"? (default true), ...}

The chat answer is "Echo: " followed by the first 12 words of the last
user message, then " [1]" (words joined by single spaces), unless an
"answer" fault replaces it.  Prompt tokens are the words of every
message's content, completion tokens the words of the answer.  Streams
send one content event per word of the answer, each word carrying the
white space that follows it, so the pieces concatenate to the answer:

  OpenAI: text/event-stream of "data: {json}\\n\\n" events: a role chunk
  (delta {"role": "assistant", "content": ""}), the content chunks, a
  chunk with an empty delta and the finish_reason, a usage chunk
  ("choices": []) when stream_options.include_usage is true, then
  "data: [DONE]\\n\\n".
  Ollama: application/x-ndjson, one line per word with "done": false,
  then a line with empty content, "done": true, "done_reason" and the
  counts.

Each event is its own HTTP chunk, written as soon as it is made.

Errors: a body that is not a JSON object, or lacks a field a request needs
or has it of the wrong type, gets 400 (OpenAI: {"error": {"message",
"type": "invalid_request_error", "param": null, "code": null}}; Ollama:
{"error": "..."}).  An Ollama model whose name starts with "missing" gets
404 {"error": "model \\"NAME\\" not found, try pulling it first"}.  An
unknown path gets 404 and a wrong method 405, in the envelope of the path's
dialect.

Control (never key-checked, never logged)
-----------------------------------------
  POST   /_control {"faults": [FAULT...]}  queue faults; -> {"queued": n},
                                           n = faults now in the queue
  DELETE /_control                         clear the queue and the
                                           in-memory log (not the file)
  GET    /_log                             the in-memory log, a JSON array
  GET    /_health                          {"ok": true}

Faults
------
Each request to one of the four API endpoints (POST, past the key check)
takes the first queued fault whose "path" equals the request's path, or
that has no "path".  A fault with "times": N serves N such requests before
it leaves the queue (default 1).  Its keys, any combination:

  status: CODE (400-599), retry_after?: "S", message?: "..."
        answer CODE with the dialect's error body (default message
        "injected failure CODE"); retry_after is sent verbatim as the
        Retry-After header.
  hang: SECONDS      sleep first, then carry on; a client that has gone
                     meanwhile is ignored quietly.
  malformed: true    200, application/json, body '{"data": [' exactly.
  count_delta: N     embeddings: N more embeddings than inputs (repeating
                     the last input's vector), or -N fewer (from the end).
  dim_delta: N       embeddings: the last embedding gets N zeros more, or
                     loses -N components.
  bad_number: true   embeddings: the first component of the first
                     embedding is written as the bare token NaN.
  shuffle: true      /v1/embeddings: data items in reverse order, each
                     keeping its right index.
  wrong_index: true  /v1/embeddings: the item of the first input gets
                     index = the number of inputs.
  cut_after: N       streams: close the connection after N content events
                     (no finish, no [DONE], no last chunk; N beyond the
                     answer's words cuts just before the finish).  Other
                     answers: headers with the full Content-Length, half
                     the body, then close.
  stream_error: MSG  streams: after the first content event, OpenAI sends
                     data: {"error": {"message": MSG, "type":
                     "server_error"}} and Ollama a line {"error": MSG};
                     the chunked body then ends properly (no [DONE]).
  finish_reason: R   chat: finish_reason (Ollama: done_reason) R.
  hold_open: SECONDS streams: after the stream's last event ([DONE], or
                     the line with "done": true), keep the connection open
                     for SECONDS before ending the body.
  no_blank_end: true OpenAI streams: the last event is "data: [DONE]\\n",
                     without the blank line that ends an event.
  error_body: MSG    chat, not streamed: status 200 with the dialect's
                     error body for MSG instead of an answer.
  answer: TEXT       chat: TEXT is the answer instead of the echo.

Keys that do not apply to a request (shuffle on a chat, stream_error on a
non-streaming answer...) are ignored.  Unknown keys make POST /_control
answer 400, so a typo in a test fails loudly.

Log
---
Every request other than the control calls (paths starting "/_"),
including rejected ones, becomes one entry, kept in memory and, with
--log, appended to the file as one JSON line, flushed at once:

  {"method", "path", "headers": {lower-cased name: value}, "body": the
   parsed JSON, or the raw text when it is not JSON, "fault"?: the fault
   applied, as it was queued}

The entry is written when the request arrives, before any hang.
"""

import argparse
import hashlib
import http.server
import json
import math
import os
import re
import signal
import socket
import struct
import sys
import threading
import time
import urllib.parse


# ---------------------------------------------------------------------------
# Deterministic embeddings

def vector(model, text, dim):
    """Returns the embedding of text under model as a list of dim floats.

    See the module's docstring for the construction.  The components are
    already rounded to 6 decimal places, as the server writes them.
    """
    # surrogatepass: JSON may carry lone surrogates ("\ud800"); hash them
    # rather than fail.
    seed = hashlib.sha256((model + "\n" + text).encode("utf-8", "surrogatepass")).digest()
    stream = bytearray()
    counter = 0
    while len(stream) < 4 * dim:
        stream += hashlib.sha256(seed + counter.to_bytes(4, "big")).digest()
        counter += 1
    words = struct.unpack(">%dI" % dim, bytes(stream[:4 * dim]))
    raw = [u / 2**32 * 2 - 1 for u in words]
    norm = math.sqrt(sum(x * x for x in raw)) or 1.0
    return [round(x / norm, 6) for x in raw]


def count_words(text):
    return len(text.split())


# ---------------------------------------------------------------------------
# Faults

# The keys a fault may have, each with a check of its value.
def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


FAULT_KEYS = {
    "path": lambda v: isinstance(v, str),
    "times": lambda v: _is_int(v) and v >= 1,
    "status": lambda v: _is_int(v) and 400 <= v <= 599,
    "retry_after": lambda v: isinstance(v, str) or _is_int(v),
    "message": lambda v: isinstance(v, str),
    "hang": lambda v: (_is_int(v) or isinstance(v, float)) and v >= 0,
    "malformed": lambda v: isinstance(v, bool),
    "count_delta": _is_int,
    "dim_delta": _is_int,
    "bad_number": lambda v: isinstance(v, bool),
    "shuffle": lambda v: isinstance(v, bool),
    "wrong_index": lambda v: isinstance(v, bool),
    "cut_after": lambda v: _is_int(v) and v >= 0,
    "stream_error": lambda v: isinstance(v, str),
    "finish_reason": lambda v: isinstance(v, str),
    "answer": lambda v: isinstance(v, str),
    "hold_open": lambda v: (_is_int(v) or isinstance(v, float)) and v >= 0,
    "no_blank_end": lambda v: v is True,
    "error_body": lambda v: isinstance(v, str),
}


def check_fault(fault):
    """Returns None when fault is well formed, else what is wrong with it."""
    if not isinstance(fault, dict):
        return "a fault must be an object"
    for key, value in fault.items():
        if key not in FAULT_KEYS:
            return "unknown fault key \"%s\"" % key
        if not FAULT_KEYS[key](value):
            return "bad value for fault key \"%s\": %s" % (key, json.dumps(value))
    return None


class State:
    """What the request threads share: the fault queue and the log."""

    def __init__(self, dim, key, log_path):
        self.dim = dim
        self.key = key
        self.lock = threading.Lock()
        self.faults = []        # [fault, uses left], oldest first
        self.log = []
        self.log_file = open(log_path, "a", encoding="utf-8") if log_path else None
        self.times_file = None

    def queue_faults(self, faults):
        with self.lock:
            self.faults.extend([f, f.get("times", 1)] for f in faults)
            return len(self.faults)

    def take_fault(self, path):
        """Returns the first fault that matches path, or None, using it up."""
        with self.lock:
            for i, item in enumerate(self.faults):
                fault = item[0]
                if fault.get("path", path) == path:
                    item[1] -= 1
                    if item[1] == 0:
                        del self.faults[i]
                    return fault
        return None

    def clear(self):
        with self.lock:
            self.faults.clear()
            self.log.clear()

    def record(self, entry):
        with self.lock:
            self.log.append(entry)
            if self.log_file:
                self.log_file.write(json.dumps(entry) + "\n")
                self.log_file.flush()

    def entries(self):
        with self.lock:
            return list(self.log)


# ---------------------------------------------------------------------------
# Request validation: each returns (values, None) or (None, message).

def request_model(body):
    """The model a request body names: (model, None) or (None, message)."""
    if not isinstance(body, dict):
        return None, "the request body must be a JSON object"
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return None, "\"model\" must be a non-empty string"
    return model, None


def parse_embed_request(body, default_dim):
    model, bad = request_model(body)
    if bad:
        return None, bad
    inputs = body.get("input")
    if isinstance(inputs, str):
        inputs = [inputs]
    elif isinstance(inputs, list):
        if not inputs:
            return None, "\"input\" must not be empty"
        if not all(isinstance(s, str) for s in inputs):
            return None, "\"input\" must be a string or an array of strings"
    else:
        return None, "\"input\" must be a string or an array of strings"
    dim = body.get("dimensions", default_dim)
    if not _is_int(dim) or not 1 <= dim <= 65536:
        return None, "\"dimensions\" must be an integer from 1 to 65536"
    if body.get("encoding_format", "float") != "float":
        return None, "only \"encoding_format\": \"float\" is supported"
    return (model, inputs, dim), None


def message_text(content):
    """The text of a message's content: a string, null, or an array of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content
                        if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


def parse_chat_request(body, stream_default):
    model, bad = request_model(body)
    if bad:
        return None, bad
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return None, "\"messages\" must be a non-empty array"
    for m in messages:
        if not isinstance(m, dict) or not isinstance(m.get("role"), str):
            return None, "each message must be an object with a string \"role\""
        if not (m.get("content") is None or isinstance(m["content"], (str, list))):
            return None, "a message's \"content\" must be a string or an array"
    stream = body.get("stream", stream_default)
    if not isinstance(stream, bool):
        return None, "\"stream\" must be a boolean"
    options = body.get("stream_options") or {}
    if not isinstance(options, dict):
        return None, "\"stream_options\" must be an object"
    include_usage = options.get("include_usage") is True
    return (model, messages, stream, include_usage), None


def chat_answer(messages, fault):
    """Returns (answer text, prompt tokens, completion tokens)."""
    if "answer" in fault:
        text = fault["answer"]
    else:
        last = ""
        for m in messages:
            if m["role"] == "user":
                last = message_text(m.get("content"))
        text = " ".join(["Echo:"] + last.split()[:12] + ["[1]"])
    prompt = sum(count_words(message_text(m.get("content"))) for m in messages)
    return text, prompt, count_words(text)


def stream_pieces(text):
    """Splits text into words, each keeping the white space that follows it
    (the first also any that leads), so that "".join(pieces) == text."""
    pieces = re.findall(r"\s*\S+\s*", text)
    if not pieces and text:
        pieces = [text]         # white space only
    return pieces


# ---------------------------------------------------------------------------
# HTTP

class BadRequest(Exception):
    """A request whose framing we cannot read; the connection is closed."""


class Cut(Exception):
    """Raised after a deliberate abrupt close, to end the request quietly."""


CHAT_ID = "chatcmpl-test"
CREATED = 1700000000
CREATED_AT = "2023-11-14T00:00:00Z"

ROUTES = {
    "/v1/embeddings": "openai_embed",
    "/api/embed": "ollama_embed",
    "/v1/chat/completions": "openai_chat",
    "/api/chat": "ollama_chat",
}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without this, each
    # kept-alive answer would wait on the client's delayed ACK.
    disable_nagle_algorithm = True
    server_version = "ragkit-provider-server"
    sys_version = ""
    timeout = 60                # drop idle keep-alive connections

    def log_message(self, format, *args):
        pass                    # no per-request lines on stderr

    # One entry point for every method; unknown methods get 405 like
    # known methods on the wrong path.
    def do_GET(self):
        self.dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = do_GET

    def dispatch(self):
        self.fault = {}
        self.path_only = urllib.parse.urlsplit(self.path).path
        try:
            raw = self.read_body()
        except BadRequest as e:
            self.close_connection = True
            self.send_json(400, {"error": str(e)})
            return
        started = time.time()
        try:
            if self.path_only.startswith("/_"):
                self.control(raw)
            else:
                self.api(raw)
        except Cut:
            pass
        times = self.server.state.times_file
        if times and not self.path_only.startswith("/_"):
            with self.server.state.lock:
                times.write("%.6f %.6f\n" % (started, time.time()))
                times.flush()

    def read_body(self):
        """Reads the request body, by Content-Length or chunked."""
        coding = self.headers.get("Transfer-Encoding", "")
        if coding.lower().rstrip().endswith("chunked"):
            body = bytearray()
            while True:
                line = self.rfile.readline(65537)
                try:
                    size = int(line.split(b";")[0].strip(), 16)
                except ValueError:
                    raise BadRequest("bad chunk size line")
                if size == 0:
                    break
                data = self.rfile.read(size)
                if len(data) < size:
                    raise BadRequest("short chunk")
                body += data
                self.rfile.readline()           # the CRLF after the data
            while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                pass                            # trailers
            return bytes(body)
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        try:
            n = int(length)
            if n < 0:
                raise ValueError
        except ValueError:
            raise BadRequest("bad Content-Length")
        data = self.rfile.read(n)
        if len(data) < n:
            raise BadRequest("short body")
        return data

    # -- answers ----------------------------------------------------------

    def send_body(self, status, content_type, body, headers=()):
        """Sends a whole answer with Content-Length.  A cut_after fault sends
        only half of body and closes the connection."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command == "HEAD":
            return
        if "cut_after" in self.fault:
            self.wfile.write(body[:len(body) // 2])
            self.cut()
        self.wfile.write(body)

    def send_json(self, status, obj, headers=()):
        # json.dumps writes NaN as the bare token, as bad_number wants.
        self.send_body(status, "application/json", json.dumps(obj).encode(), headers)

    def send_error_body(self, status, message, headers=(), etype=None, code=None):
        """An error in the envelope of the request path's dialect."""
        if self.path_only.startswith("/v1/"):
            if etype is None:
                etype = {429: "requests", 401: "invalid_request_error"}.get(
                    status, "server_error" if status >= 500 else "invalid_request_error")
            obj = {"error": {"message": message, "type": etype, "param": None, "code": code}}
        else:
            obj = {"error": message}
        self.send_json(status, obj, headers)

    def cut(self):
        """Closes the connection abruptly and ends the request."""
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        raise Cut()

    def start_stream(self, content_type):
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Cache-Control", "no-cache")
        if self.request_version == "HTTP/1.0":
            self.chunked = False        # no chunked coding in HTTP/1.0:
            self.close_connection = True  # the close ends the body
        else:
            self.chunked = True
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def send_event(self, data):
        """Sends data as one HTTP chunk of the stream."""
        if self.chunked:
            data = b"%x\r\n%s\r\n" % (len(data), data)
        self.wfile.write(data)
        self.wfile.flush()

    def end_stream(self):
        if self.chunked:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

    # -- control ----------------------------------------------------------

    def control(self, raw):
        state = self.server.state
        route = (self.command, self.path_only)
        if route == ("GET", "/_health"):
            self.send_json(200, {"ok": True})
        elif route == ("GET", "/_log"):
            self.send_json(200, state.entries())
        elif route == ("DELETE", "/_control"):
            state.clear()
            self.send_json(200, {"cleared": True})
        elif route == ("POST", "/_control"):
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
            faults = body.get("faults") if isinstance(body, dict) else None
            if not isinstance(faults, list):
                self.send_json(400, {"error": "the body must be {\"faults\": [...]}"})
                return
            for fault in faults:
                problem = check_fault(fault)
                if problem:
                    self.send_json(400, {"error": problem})
                    return
            self.send_json(200, {"queued": state.queue_faults(faults)})
        elif self.path_only in ("/_health", "/_log", "/_control"):
            allow = "POST, DELETE" if self.path_only == "/_control" else "GET"
            self.send_json(405, {"error": "method not allowed"}, [("Allow", allow)])
        else:
            self.send_json(404, {"error": "not found"})

    # -- API --------------------------------------------------------------

    def api(self, raw):
        state = self.server.state
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("utf-8", "replace")
        try:
            body = json.loads(text)
        except ValueError:
            body = text
        entry = {
            "method": self.command,
            "path": self.path,
            "headers": {},
            "body": body,
        }
        for name, value in self.headers.items():
            name = name.lower()
            if name in entry["headers"]:
                value = entry["headers"][name] + ", " + value
            entry["headers"][name] = value

        route = ROUTES.get(self.path_only)
        if route is None:
            state.record(entry)
            what = "Unknown request URL: %s %s" % (self.command, self.path_only)
            self.send_error_body(404, what, code="unknown_url")
            return
        if self.command != "POST":
            state.record(entry)
            self.send_error_body(405, "method %s not allowed" % self.command,
                                 [("Allow", "POST")])
            return
        if (state.key is not None and self.path_only.startswith("/v1/")
                and self.headers.get("Authorization") != "Bearer " + state.key):
            state.record(entry)
            self.send_error_body(401, "Incorrect API key provided",
                                 code="invalid_api_key")
            return

        fault = state.take_fault(self.path_only)
        if fault is not None:
            entry["fault"] = fault
            self.fault = fault
        state.record(entry)

        if "hang" in self.fault:
            time.sleep(self.fault["hang"])
        if "status" in self.fault:
            status = self.fault["status"]
            headers = []
            if "retry_after" in self.fault:
                headers.append(("Retry-After", str(self.fault["retry_after"])))
            message = self.fault.get("message", "injected failure %d" % status)
            self.send_error_body(status, message, headers)
            return
        if self.fault.get("malformed"):
            self.send_body(200, "application/json", b'{"data": [')
            return
        getattr(self, route)(body)

    def embeddings(self, body):
        """Validates an embeddings request and returns (model, inputs,
        vectors) with the count, dimension and number faults applied, or
        None after answering 400."""
        parsed, problem = parse_embed_request(body, self.server.state.dim)
        if problem:
            self.send_error_body(400, problem)
            return None
        model, inputs, dim = parsed
        vectors = [vector(model, s, dim) for s in inputs]
        delta = self.fault.get("count_delta", 0)
        if delta > 0:
            vectors += [list(vectors[-1]) for _ in range(delta)]
        elif delta < 0:
            del vectors[max(0, len(vectors) + delta):]
        delta = self.fault.get("dim_delta", 0)
        if vectors and delta > 0:
            vectors[-1] = vectors[-1] + [0.0] * delta
        elif vectors and delta < 0:
            vectors[-1] = vectors[-1][:max(0, len(vectors[-1]) + delta)]
        if vectors and vectors[0] and self.fault.get("bad_number"):
            vectors[0][0] = float("nan")
        return model, inputs, vectors

    def openai_embed(self, body):
        result = self.embeddings(body)
        if result is None:
            return
        model, inputs, vectors = result
        data = [{"object": "embedding", "index": i, "embedding": v}
                for i, v in enumerate(vectors)]
        if data and self.fault.get("wrong_index"):
            data[0]["index"] = len(inputs)
        if self.fault.get("shuffle"):
            data.reverse()
        tokens = sum(count_words(s) for s in inputs)
        self.send_json(200, {
            "object": "list",
            "data": data,
            "model": model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        })

    def ollama_embed(self, body):
        if self.ollama_model_missing(body):
            return
        result = self.embeddings(body)
        if result is None:
            return
        model, inputs, vectors = result
        self.send_json(200, {
            "model": model,
            "embeddings": vectors,
            "total_duration": 1000,
            "load_duration": 10,
            "prompt_eval_count": sum(count_words(s) for s in inputs),
        })

    def ollama_model_missing(self, body):
        """Answers 404 and returns True for a model named "missing...".
        (Real Ollama does so on chat as well as embed.)"""
        model = body.get("model") if isinstance(body, dict) else None
        if isinstance(model, str) and model.startswith("missing"):
            self.send_error_body(
                404, "model \"%s\" not found, try pulling it first" % model)
            return True
        return False

    def openai_chat(self, body):
        parsed, problem = parse_chat_request(body, False)
        if problem:
            self.send_error_body(400, problem)
            return
        model, messages, stream, include_usage = parsed
        text, prompt, completion = chat_answer(messages, self.fault)
        finish = self.fault.get("finish_reason", "stop")
        usage = {"prompt_tokens": prompt, "completion_tokens": completion,
                 "total_tokens": prompt + completion}
        if not stream and "error_body" in self.fault:
            self.send_json(200, {"error": {"message": self.fault["error_body"],
                                           "type": "server_error"}})
            return
        if not stream:
            self.send_json(200, {
                "id": CHAT_ID,
                "object": "chat.completion",
                "created": CREATED,
                "model": model,
                "choices": [{"index": 0,
                             "message": {"role": "assistant", "content": text},
                             "finish_reason": finish}],
                "usage": usage,
            })
            return

        def chunk(choices, **extra):
            obj = {"id": CHAT_ID, "object": "chat.completion.chunk",
                   "created": CREATED, "model": model, "choices": choices}
            obj.update(extra)
            return b"data: " + json.dumps(obj).encode() + b"\n\n"

        def choice(delta, finish_reason=None):
            return [{"index": 0, "delta": delta, "finish_reason": finish_reason}]

        self.start_stream("text/event-stream")
        self.send_event(chunk(choice({"role": "assistant", "content": ""})))
        error = {"error": {"message": self.fault.get("stream_error"),
                           "type": "server_error"}}
        error = b"data: " + json.dumps(error).encode() + b"\n\n"
        if not self.stream_words(text, lambda w: chunk(choice({"content": w})), error):
            return
        self.send_event(chunk(choice({}, finish)))
        if include_usage:
            self.send_event(chunk([], usage=usage))
        self.send_event(b"data: [DONE]\n" if self.fault.get("no_blank_end") else b"data: [DONE]\n\n")
        self.hold_open()
        self.end_stream()

    def ollama_chat(self, body):
        if self.ollama_model_missing(body):
            return
        parsed, problem = parse_chat_request(body, True)
        if problem:
            self.send_error_body(400, problem)
            return
        model, messages, stream, _ = parsed
        text, prompt, completion = chat_answer(messages, self.fault)
        finish = self.fault.get("finish_reason", "stop")

        def message(content):
            return {"model": model, "created_at": CREATED_AT,
                    "message": {"role": "assistant", "content": content}}

        last = message("" if stream else text)
        last.update({"done": True, "done_reason": finish, "total_duration": 1000,
                     "prompt_eval_count": prompt, "eval_count": completion})
        if not stream and "error_body" in self.fault:
            self.send_json(200, {"error": self.fault["error_body"]})
            return
        if not stream:
            self.send_json(200, last)
            return

        def line(obj):
            return json.dumps(obj).encode() + b"\n"

        self.start_stream("application/x-ndjson")
        error = line({"error": self.fault.get("stream_error")})
        if not self.stream_words(text, lambda w: line(dict(message(w), done=False)), error):
            return
        self.send_event(line(last))
        self.hold_open()
        self.end_stream()

    def hold_open(self):
        """The hold_open fault: the stream is over, the body not yet ended."""
        if self.fault.get("hold_open"):
            time.sleep(self.fault["hold_open"])

    def stream_words(self, text, event, error):
        """Sends event(word) for each word of text, applying the cut_after
        and stream_error faults.  Returns False when the stream has ended
        (cut, or closed after the error), True when the caller should go on
        to finish it."""
        cut_after = self.fault.get("cut_after")
        has_error = "stream_error" in self.fault
        if cut_after == 0:
            self.cut()
        sent = 0
        for word in stream_pieces(text):
            self.send_event(event(word))
            sent += 1
            if sent == cut_after:
                self.cut()
            if has_error:
                break
        if has_error:
            self.send_event(error)
            self.end_stream()
            return False
        if cut_after is not None:
            self.cut()          # more events asked for than there were
        return True


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    # Never wait for a hanging request at exit.  Daemon threads are not
    # joined anyway; this only makes the intent plain.
    block_on_close = False

    def handle_error(self, request, client_address):
        # A client that went away (e.g. during a hang) is not worth a
        # traceback; anything else is a bug in this file and is shown.
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


# ---------------------------------------------------------------------------
# Main

def process_gone(pid):
    """True when process pid no longer exists (or is a zombie)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:
        with open("/proc/%d/stat" % pid) as f:
            # The state follows the command name, which is in parentheses.
            return f.read().rpartition(")")[2].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def main():
    ap = argparse.ArgumentParser(description="Fake embedding and chat provider for ragkit's tests.")
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log")
    ap.add_argument("--dim", type=int, default=8)
    ap.add_argument("--key")
    ap.add_argument("--parent-pid", type=int)
    ap.add_argument("--times")
    args = ap.parse_args()
    if args.dim < 1:
        ap.error("--dim must be at least 1")

    # Handlers first, so a SIGTERM sent as soon as the port file appears
    # already stops us cleanly.
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, frame: stop.set())

    server = Server(("127.0.0.1", 0), Handler)  # binds and listens
    server.state = State(args.dim, args.key, args.log)
    if args.times:
        server.state.times_file = open(args.times, "a", encoding="utf-8")
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                     daemon=True).start()

    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % server.server_address[1])
    os.replace(tmp, args.port_file)

    while not stop.wait(0.5):
        if args.parent_pid is not None and process_gone(args.parent_pid):
            break
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
