"""Canonical JSON and its SHA-256: the bytes a record is stored as, and the digest printed on paper.

One definition for every digest the system shows (a 申报书's record, a unit's 推荐汇总表), so a printed digest
is always checked the same way: sha256 over sorted keys, no spaces, UTF-8.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical(value: Any) -> bytes:
    """The bytes a record is stored as, and hashed from: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
