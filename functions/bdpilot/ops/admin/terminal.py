"""Text for a person at a terminal: nothing stored can act on the terminal or hide itself, columns line up with
wide (Chinese) characters, JSON stays valid on any console encoding, and a progress bar on stderr."""

from __future__ import annotations

import re
import time
import unicodedata
from contextlib import suppress
from typing import Any, TextIO

from bdpilot.console.records.cells import INVISIBLE, reveal
from bdpilot.domain import wording

_TERMINAL_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# In JSON output: what would act on a terminal or hide text, written as \u escapes (the same JSON value).
_JSON_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]|" + INVISIBLE.pattern)
_NON_ASCII = re.compile("[^\x00-\x7f]")


def plain(value: Any) -> str:
    """Stored text made harmless for a terminal: no escape sequences or other control characters, and invisible
    format characters (bidi overrides, zero-width characters) named where they are, e.g. <U+202E>."""
    return reveal(_TERMINAL_UNSAFE.sub("", "" if value is None else str(value)))


def _json_escape(char: str) -> str:
    code = ord(char)
    if code > 0xFFFF:
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
    return f"\\u{code:04x}"


def json_text(text: str, out: TextIO) -> str:
    """JSON text made safe for `out`: terminal controls, invisible characters and whatever the output's encoding
    cannot hold (a GBK console) become \\u escapes, so the JSON value is unchanged and nothing is lost."""
    text = _JSON_UNSAFE.sub(lambda m: _json_escape(m.group()), text)
    encoding = (getattr(out, "encoding", None) or "utf-8").lower().replace("_", "-")
    if encoding.startswith(("utf-8", "utf8", "utf-16", "utf-32")):
        return text

    def fit(match: re.Match[str]) -> str:
        try:
            match.group().encode(encoding)
        except (UnicodeEncodeError, LookupError):
            return _json_escape(match.group())
        return match.group()

    return _NON_ASCII.sub(fit, text)


def tolerant(stream: TextIO) -> None:
    """Let a console that cannot show a character print '?' for it instead of failing with a traceback (exit 1,
    which means "altered"): a Chinese Windows console, or PYTHONIOENCODING=gbk, encodes GBK."""
    reconfigure = getattr(stream, "reconfigure", None)
    if reconfigure is not None and getattr(stream, "errors", None) == "strict":
        with suppress(ValueError, OSError):  # a stream that cannot change now: leave it
            reconfigure(errors="replace")


def width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def one_line(text: str) -> str:
    return text.replace("\t", " ").replace("\n", " ")


def clip(text: str, limit: int) -> str:
    text = one_line(plain(text))
    if width(text) <= limit:
        return text
    out, used = "", 0
    for ch in text:
        w = width(ch)
        if used + w > limit - 1:
            break
        out, used = out + ch, used + w
    return out + "…"


def pad(text: str, size: int) -> str:
    return text + " " * max(0, size - width(text))


def print_table(headers: list[str], rows: list[list[str]], out: TextIO) -> None:
    rows = [[one_line(c) for c in row] for row in rows]  # a tab or newline in a value would break the columns
    sizes = [max([width(h), *(width(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    print("  ".join(pad(h, s) for h, s in zip(headers, sizes, strict=True)).rstrip(), file=out)
    print("  ".join("-" * s for s in sizes), file=out)
    for row in rows:
        print("  ".join(pad(c, s) for c, s in zip(row, sizes, strict=True)).rstrip(), file=out)


class Progress:
    """A one-line progress bar on stderr, redrawn at most ten times a second."""

    def __init__(self, total: int | None, label: str, stream: TextIO, enabled: bool) -> None:
        self.total, self.label, self.stream, self.enabled = total, label, stream, enabled
        self.start = self._last = time.monotonic()
        self.done = 0

    def __call__(self, done: int) -> None:
        self.done = done
        now = time.monotonic()
        if self.enabled and (now - self._last >= 0.1 or done == self.total):
            self._last = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        rate = self.done / max(now - self.start, 1e-6)
        if self.total:
            share = min(self.done / self.total, 1.0)
            bar = "█" * int(share * 30) + "░" * (30 - int(share * 30))
            line = wording.text("admin.progress.bar", label=self.label, bar=bar, done=self.done, total=self.total,
                                share=f"{share:4.0%}", rate=f"{rate:.0f}")
        else:
            line = wording.text("admin.progress.count", label=self.label, done=self.done, rate=f"{rate:.0f}")
        line = "\r" + line
        self.stream.write(line)
        self.stream.flush()

    def finish(self) -> None:
        if self.enabled:
            self._draw(time.monotonic())
            self.stream.write("\n")
            self.stream.flush()


def write_raw(data: bytes, out: TextIO) -> None:
    """`show --json`: the stored bytes exactly into a file or pipe; on a terminal, the same JSON with what would
    act on the terminal escaped."""
    buffer = getattr(out, "buffer", None)
    if buffer is not None and not out.isatty():
        out.flush()
        buffer.write(data + b"\n")
        buffer.flush()
    else:
        out.write(json_text(data.decode("utf-8", errors="replace"), out) + "\n")


def size(n: Any) -> str:
    """A byte count as `show` states it (the exact number: a file is checked to the byte)."""
    return wording.text("admin.show.bytes", n=f"{n:,}") if isinstance(n, int) else plain(n)
