"""A minimal HTTP/1.1 keep-alive GET client on asyncio streams, for load generation.

httpx costs more CPU per request than the service under test, and on a 2-core machine the
load generator shares the cores; this client only writes a request and reads the status
line, headers and a Content-Length body.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 host: str, headers: dict[str, str]) -> None:
        self.reader, self.writer = reader, writer
        extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self._head = f"Host: {host}\r\n{extra}\r\n"

    @classmethod
    async def open(cls, base_url: str, headers: dict[str, str]) -> Connection:
        url = urlsplit(base_url)
        reader, writer = await asyncio.open_connection(url.hostname, url.port)
        return cls(reader, writer, url.netloc, headers)

    async def get(self, path: str) -> int:
        """GET ``path``; returns the status code (the body is read and dropped)."""
        return (await self.fetch(path))[0]

    async def fetch(self, path: str) -> tuple[int, bytes]:
        """GET ``path``; returns the status code and the body."""
        self.writer.write(f"GET {path} HTTP/1.1\r\n{self._head}".encode())
        status_line = await self.reader.readline()
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        body = await self.reader.readexactly(length) if length else b""
        return int(status_line.split()[1]), body

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()
