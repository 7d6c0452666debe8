#!/usr/bin/env python3
"""A tiny stand-in for Anthropic's Messages API, for tests/openclaw/agent_turn.sh.

Usage: anthropic_standin.py PORT_FILE LOG_FILE
Listens on 127.0.0.1 on a free port (written to PORT_FILE once listening). Every POST /v1/messages is answered
with the assistant text "ok" (SSE when the request has "stream": true, else JSON); the request's x-api-key header
(and authorization header, if any) is appended to LOG_FILE, one "name: value" line each.
"""
import json, os, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT_FILE, LOG_FILE = sys.argv[1], sys.argv[2]
MODEL = "claude-sonnet-4-6"
USAGE = {"input_tokens": 5, "output_tokens": 1}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        with open(LOG_FILE, "a") as log:
            log.write(f"x-api-key: {self.headers.get('x-api-key', '')}\n")
            if self.headers.get("authorization") is not None:
                log.write(f"authorization: {self.headers['authorization']}\n")
        if self.path.split("?")[0] != "/v1/messages":
            return self.reply(404, "application/json", b'{"type":"error","error":{"type":"not_found_error","message":"not found"}}')
        try:
            req = json.loads(body or b"{}")
        except ValueError:
            req = {}
        msg = {"id": "msg_standin", "type": "message", "role": "assistant", "model": req.get("model", MODEL)}
        if not req.get("stream"):
            msg.update(content=[{"type": "text", "text": "ok"}], stop_reason="end_turn", stop_sequence=None, usage=USAGE)
            return self.reply(200, "application/json", json.dumps(msg).encode())
        msg.update(content=[], stop_reason=None, stop_sequence=None, usage={"input_tokens": 5, "output_tokens": 0})
        events = [
            ("message_start", {"type": "message_start", "message": msg}),
            ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "ok"}}),
            ("content_block_stop", {"type": "content_block_stop", "index": 0}),
            ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None}, "usage": {"output_tokens": 1}}),
            ("message_stop", {"type": "message_stop"}),
        ]
        self.reply(200, "text/event-stream", "".join(f"event: {e}\ndata: {json.dumps(d)}\n\n" for e, d in events).encode())

    def reply(self, code, ctype, data):
        self.send_response(code)
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(PORT_FILE + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.replace(PORT_FILE + ".tmp", PORT_FILE)
server.serve_forever()
