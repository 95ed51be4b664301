"""Embeddings kept on disk between benchmark runs, so only new or changed chunks hit the model.

On a 2-core CPU a benchmark's first run is mostly inference; reruns after a chunker change only
embed chunks whose text changed. Vectors are keyed by (model fingerprint, profile, content hash
of the exact text embedded): a different model or encoding profile never reads stale vectors.
"""

from __future__ import annotations

import sqlite3
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from embedsvc.encoding.sentence_transformer import SentenceTransformerEncoder as Encoder
from embedsvc.types import content_hash

CACHE_FILE = Path(__file__).parent / ".cache" / "embeddings.sqlite"
_BLOCK = 256  # texts encoded and committed together: an interrupted run keeps its progress
_LOOKUP = 500  # keys per SELECT, under SQLite's bound-parameter limit


class EmbeddingCache:
    """Normalized float32 vectors of texts, from the cache or else from ``encoder``.

    ``profile`` names how texts are encoded beyond the model itself (window, normalization);
    the model's window is always part of it, since it decides where texts are truncated.
    """

    def __init__(self, encoder: Encoder, profile: str = "normalized", path: Path = CACHE_FILE):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.encoder = encoder
        self.fingerprint = encoder.info.fingerprint
        # The default encoder profile (precision included) is part of what a vector means.
        default = encoder.info.default_profile.key()
        self.profile = f"{profile}-max{encoder.info.max_tokens}-{default}"
        self.dimensions = encoder.info.dimensions
        self._db = sqlite3.connect(path)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS vectors (fingerprint TEXT, profile TEXT, hash TEXT,"
            " vector BLOB, PRIMARY KEY (fingerprint, profile, hash))"
        )
        self.encoded = 0  # texts that went through the model in this process

    def embed(self, texts: Sequence[str], label: str = "texts") -> np.ndarray:
        """One row per text, in order; duplicates and cached texts are not encoded again."""
        keys = [content_hash(text) for text in texts]
        found = self._lookup(sorted(set(keys)))
        missing = {key: text for key, text in zip(keys, texts, strict=True) if key not in found}
        if missing:
            found.update(self._encode(missing, label))
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        return np.stack([found[key] for key in keys])

    def _lookup(self, keys: list[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for i in range(0, len(keys), _LOOKUP):
            part = keys[i : i + _LOOKUP]
            rows = self._db.execute(
                "SELECT hash, vector FROM vectors WHERE fingerprint = ? AND profile = ?"
                f" AND hash IN ({','.join('?' * len(part))})",
                (self.fingerprint, self.profile, *part),
            )
            found.update((key, np.frombuffer(blob, dtype=np.float32)) for key, blob in rows)
        return found

    def _encode(self, missing: dict[str, str], label: str) -> dict[str, np.ndarray]:
        keys, started = list(missing), time.monotonic()
        out: dict[str, np.ndarray] = {}
        for i in range(0, len(keys), _BLOCK):
            block = keys[i : i + _BLOCK]
            vectors = self.encoder.encode([missing[key] for key in block], normalize=True)
            rows = [(self.fingerprint, self.profile, k, v.tobytes())
                    for k, v in zip(block, vectors, strict=True)]
            with self._db:
                self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?, ?)", rows)
            out.update(zip(block, vectors, strict=True))
            self.encoded += len(block)
            done = i + len(block)
            print(f"  embedded {done}/{len(keys)} {label} ({time.monotonic() - started:.0f} s)",
                  file=sys.stderr, flush=True)
        return out
