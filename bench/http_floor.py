"""The HTTP floor: the most requests/s this stack can serve the care-plan document at all.

The same FastAPI and uvicorn (httptools, TCP_NODELAY, no access log) as careloop's API, the
same route shape (``/clients/{uuid}/care-plan``, the path parameter parsed as a UUID) and the
same document, already encoded, from memory: no token, no view store, no read recorded. It
runs in its own process, like careloop's API, and is loaded by the same client in the same
run, so ``query_rps / http_floor_rps`` says how close careloop's reads come to the stack's
own limit whatever else the machine is doing.

    python -m bench.http_floor <port> <document.json>
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from pathlib import Path
from uuid import UUID

import uvicorn
from fastapi import FastAPI, Response

from bench.environment import ROOT


def floor_app(document: bytes) -> FastAPI:
    api = FastAPI(title="http floor")

    @api.get("/clients/{client_id}/care-plan")
    async def get_care_plan(client_id: UUID) -> Response:
        return Response(document, media_type="application/json")

    return api


def serve(port: int, document: bytes) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    config = uvicorn.Config(floor_app(document), log_config=None, access_log=False,
                            lifespan="off")
    asyncio.run(uvicorn.Server(config).serve(sockets=[sock]))


class FloorProcess:
    """The floor server in a child process, for the length of a ``with`` block."""

    def __init__(self, port: int, document: bytes, work: Path) -> None:
        self.port, self.path = port, work / "floor-document.json"
        self.path.write_bytes(document)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> FloorProcess:
        self.proc = subprocess.Popen([sys.executable, "-m", "bench.http_floor", str(self.port),
                                      str(self.path)], cwd=ROOT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("the HTTP floor server exited")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("the HTTP floor server did not start")

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()


if __name__ == "__main__":
    serve(int(sys.argv[1]), Path(sys.argv[2]).read_bytes())
