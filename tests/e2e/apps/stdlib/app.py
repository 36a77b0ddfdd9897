"""A dependency-free test app: answers on $PORT, can crash on demand, reports its mounts."""

import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

VERSION = "v1"


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        if self.path == "/crash":
            os._exit(3)
        if self.path == "/files":
            body = json.dumps({
                "tmp_mount": sorted(p.name for p in Path("/app/scratch").iterdir()),
                "web_data": sorted(p.name for p in Path("/app/data").iterdir()),
            })
        elif self.path == "/env":
            body = json.dumps(dict(os.environ))
        else:
            body = f"stdlib {VERSION} pid {os.getpid()}"
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


if __name__ == "__main__":
    Path("/app/scratch/started").write_text("x")
    print("stdlib app listening", flush=True)
    ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
    sys.exit(0)
