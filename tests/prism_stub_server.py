"""A stub OpenAI-compatible chat server on 127.0.0.1 for the offline tests of the LLM backends and judges."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable


@dataclass
class RawReply:
    """A reply sent byte for byte: for redirects, truncated bodies, bodies that are not UTF-8."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    declared_length: int | None = None  # a Content-Length larger than the body: the reply is cut short


#: behave(request_body) -> (HTTP status, reply text or error body or None, delay in seconds), or a RawReply
Behaviour = Callable[[dict], "tuple[int, str | None, float] | RawReply"]


class StubServer:
    """Serves POST …/chat/completions; records every request body and its headers."""

    def __init__(self, behave: Behaviour):
        self.behave = behave
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server API)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stub.requests.append(body)
                stub.headers.append(dict(self.headers))
                behaviour = stub.behave(body)
                if isinstance(behaviour, RawReply):
                    self._send_raw(behaviour)
                    return
                status, text, delay = behaviour
                time.sleep(delay)
                if status == 200 and text is not None:
                    choice = {"message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                    data = json.dumps({"choices": [choice]}).encode()
                else:
                    data = (text or json.dumps({"error": {"message": f"status {status}"}})).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout tests)

            def _send_raw(self, reply: RawReply) -> None:
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(reply.declared_length or len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)
                self.wfile.flush()
                self.close_connection = True  # a short body then ends the connection

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def keyword_judge(body: dict) -> tuple[int, str | None, float]:
    """A deterministic stand-in for an LLM judge behind PRISM's prompts: refusal = the response says
    "sorry"; leakage = gender when it says "man"/"woman", age when "old"/"young"; "GARBAGE" in a response
    makes an unparseable reply."""
    prompt = body["messages"][0]["content"]
    response = prompt.split("Response from a model:", 1)[-1] if "refused to answer" in prompt else prompt.split("Sentence:\n", 1)[-1]
    if "GARBAGE" in response:
        return 200, "I am not sure what you mean", 0.0
    if "refused to answer" in prompt:
        return 200, "Yes." if "sorry" in response.lower() else "No", 0.0
    words = set(response.lower().replace(".", " ").replace(",", " ").split())
    found = [name for name, cues in (("age", {"old", "young"}), ("gender", {"man", "woman"})) if words & cues]
    return 200, ", ".join(found) or "none", 0.0
