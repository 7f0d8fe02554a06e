"""A small paginated HTTP API on loopback for the declarative-manifest test (tests/native.rs).

    python3 api.py PORT_FILE ITEMS

Serves GET /items?page=N&since=ISO: items with updated_at >= since, 5 per page, as
{"data": [...]}; needs the header `X-Api-Key: k3y`. Writes its port to PORT_FILE once listening.
`POST /grow?to=N` makes the source hold N items. Logs each request's query to stderr.
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

PAGE = 5
state = {"items": int(sys.argv[2])}


def item(i):
    return {"id": i, "name": f"item {i}", "updated_at": f"2024-01-{i:02d}T00:00:00Z"}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        url = urlparse(self.path)
        query = parse_qs(url.query)
        sys.stderr.write(f"GET {self.path}\n")
        if url.path != "/items":
            return self.reply(404, {"error": "not found"})
        if self.headers.get("X-Api-Key") != "k3y":
            return self.reply(401, {"error": "bad key"})
        since = query.get("since", [""])[0]
        page = int(query.get("page", ["1"])[0])
        items = [item(i) for i in range(1, state["items"] + 1)]
        items = [x for x in items if x["updated_at"] >= since]
        self.reply(200, {"data": items[(page - 1) * PAGE: page * PAGE]})

    def do_POST(self):
        url = urlparse(self.path)
        state["items"] = int(parse_qs(url.query)["to"][0])
        self.reply(200, {"items": state["items"]})

    def reply(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
import os
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
server.serve_forever()
