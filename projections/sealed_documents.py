"""View documents encrypted at rest: what the view stores write is ``{"sealed": "<base64>"}``
(AES-GCM over the document's JSON, by the cipher given, the same key ring as the events'),
and what they read is opened again. Documents written before sealing was on (plain JSON)
read back as they are; ``reseal`` writes them sealed under the current key.
"""

from __future__ import annotations

import json
from base64 import b64decode, b64encode
from typing import Any, Protocol

Doc = dict[str, Any]
SEALED = "sealed"


class BytesCipher(Protocol):
    def encrypt(self, plaintext: bytes) -> bytes: ...
    def decrypt(self, ciphertext: bytes) -> bytes: ...


class DocumentSeal:
    def __init__(self, cipher: BytesCipher | None = None) -> None:
        self.cipher = cipher

    def seal(self, doc: Any) -> Any:
        if self.cipher is None:
            return doc
        return {SEALED: b64encode(self.cipher.encrypt(json.dumps(doc).encode())).decode()}

    def open(self, stored: Any) -> Any:
        if isinstance(stored, dict) and len(stored) == 1 and SEALED in stored:
            if self.cipher is None:
                raise ValueError("a sealed view document, and no key to open it")
            return json.loads(self.cipher.decrypt(b64decode(stored[SEALED])))
        return stored

    def dumps(self, doc: Any) -> str:
        return json.dumps(self.seal(doc))

    def loads(self, text: str) -> Any:
        return self.open(json.loads(text))


PLAIN = DocumentSeal()
