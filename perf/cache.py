"""Content-keyed on-disk cache of computed arrays (``build/model/cache`` by default).

A key is the SHA-256 of a JSON description of every input of a computation, including a
fingerprint of the source files that compute it, so a changed input or model never reuses
a stale entry. Entries are ``.npz`` files written atomically.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["source_fingerprint", "cache_key", "ArrayCache"]


def source_fingerprint(*modules) -> str:
    """SHA-256 (16 hex digits) of the source files of ``modules`` (read once per process)."""
    return _fingerprint(tuple(module.__file__ for module in modules))


@functools.lru_cache(maxsize=None)
def _fingerprint(paths: tuple[str, ...]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()[:16]


def cache_key(description: dict) -> str:
    """Stable key of a JSON-serialisable description."""
    text = json.dumps(description, sort_keys=True, default=_jsonable)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _jsonable(value):
    if isinstance(value, np.ndarray):
        return hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest()
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    raise TypeError(f"cannot describe {type(value).__name__} in a cache key")


class ArrayCache:
    """Named-array entries under ``root``, keyed by :func:`cache_key`."""

    def __init__(self, root):
        self.root = Path(root)

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.npz"

    def load(self, key: str) -> dict[str, np.ndarray] | None:
        """The stored arrays, or None when absent (or unreadable: recomputed)."""
        path = self.path(key)
        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                return {name: data[name] for name in data.files}
        except (OSError, ValueError):
            return None

    def store(self, key: str, arrays: dict[str, np.ndarray]) -> None:
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as out:
                np.savez(out, **arrays)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
