"""Every sentence a user reads outside `docs/` and the campaign data: one catalogue, looked up by key.

The catalogue is the TOML files in this folder; a file is a section, so `admin.toml`'s `not_found` is
`text("admin.not_found")`. Sentences are `str.format` templates. The standing figures (the upload limit, the
number of files per kind) are filled in from the models here, so no sentence types a number that the code
also holds; anything else (a reference, the effective deadline formatted by `formats.beijing_time`) is passed
by the caller. `raw()` returns a template unformatted, for templates filled later (field errors) or in the
browser, which receives the sections it needs with the form's schema (`published()`: the standing figures
already filled in, so the browser never needs to know them).
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from typing import Any


def _flatten(prefix: str, table: dict[str, Any], entries: dict[str, str]) -> dict[str, str]:
    for key, value in table.items():
        if isinstance(value, dict):
            _flatten(f"{prefix}.{key}", value, entries)
        else:
            entries[f"{prefix}.{key}"] = value
    return entries


@cache
def _entries(name: str) -> dict[str, str]:
    """One section's entries, as `section.key`. Parsed when first asked for: a cold start's first answers read
    two or three of the files, and parsing them all cost it several milliseconds."""
    part = resources.files(__package__).joinpath(f"{name}.toml")
    if not part.is_file():
        return {}  # an unknown section: `raw` names the missing key
    return _flatten(name, tomllib.loads(part.read_text(encoding="utf-8")), {})


@cache
def catalogue() -> dict[str, str]:
    """Every entry, as `section.key` (nested tables add more dots)."""
    entries: dict[str, str] = {}
    for part in sorted(resources.files(__package__).iterdir(), key=lambda p: p.name):
        if part.name.endswith(".toml"):
            entries.update(_entries(part.name.removesuffix(".toml")))
    return entries


@cache
def figures() -> dict[str, Any]:
    """The standing parameters every sentence may use, drawn from the models (imported late: the models word
    their own errors from this catalogue)."""
    from bdpilot.domain import attachments, formats

    return {
        "upload_limit": formats.size_text(attachments.MAX_UPLOAD_BYTES),
        "per_kind": attachments.MAX_ATTACHMENTS_PER_KIND,
    }


class _Params(dict[str, Any]):
    """The caller's parameters, then the standing figures, looked up only when a sentence names one: a sentence
    without figures can be worded while the models themselves are still being imported."""

    def __missing__(self, key: str) -> Any:
        return figures()[key]


def raw(key: str) -> str:
    """The template itself (KeyError names a missing key: a typo fails the first test that reaches it)."""
    return _entries(key.split(".", 1)[0])[key]


def fill(template: str, /, **params: Any) -> str:
    """A template (from `raw` or `section`) with the standing figures and `params` filled in."""
    return template.format_map(_Params(params))


def text(key: str, /, **params: Any) -> str:
    """The sentence `key`, with the standing figures and `params` filled in."""
    return fill(raw(key), **params)


def section(name: str) -> dict[str, str]:
    """One section's templates, unformatted, keyed without the section name (e.g. for the browser)."""
    prefix = f"{name}."
    entries = _entries(name.split(".", 1)[0]).items()
    return {key.removeprefix(prefix): value for key, value in entries if key.startswith(prefix)}


def published(name: str) -> dict[str, str]:
    """One section for the browser: the standing figures filled in, every other placeholder left for it."""
    result = section(name)
    for figure, value in figures().items():
        result = {key: template.replace(f"{{{figure}}}", str(value)) for key, template in result.items()}
    return result
