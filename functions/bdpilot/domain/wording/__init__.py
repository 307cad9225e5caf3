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


@cache
def catalogue() -> dict[str, str]:
    """Every entry, as `section.key` (nested tables add more dots)."""
    entries: dict[str, str] = {}

    def add(prefix: str, table: dict[str, Any]) -> None:
        for key, value in table.items():
            if isinstance(value, dict):
                add(f"{prefix}.{key}", value)
            else:
                entries[f"{prefix}.{key}"] = value

    for part in sorted(resources.files(__package__).iterdir(), key=lambda p: p.name):
        if part.name.endswith(".toml"):
            add(part.name.removesuffix(".toml"), tomllib.loads(part.read_text(encoding="utf-8")))
    return entries


@cache
def figures() -> dict[str, Any]:
    """The standing parameters every sentence may use, drawn from the models (imported late: the models word
    their own errors from this catalogue)."""
    from bdpilot.domain import application, formats

    return {
        "upload_limit": formats.size_text(application.MAX_UPLOAD_BYTES),
        "per_kind": application.MAX_ATTACHMENTS_PER_KIND,
    }


class _Params(dict[str, Any]):
    """The caller's parameters, then the standing figures, looked up only when a sentence names one: a sentence
    without figures can be worded while the models themselves are still being imported."""

    def __missing__(self, key: str) -> Any:
        return figures()[key]


def raw(key: str) -> str:
    """The template itself (KeyError names a missing key: a typo fails the first test that reaches it)."""
    return catalogue()[key]


def fill(template: str, /, **params: Any) -> str:
    """A template (from `raw` or `section`) with the standing figures and `params` filled in."""
    return template.format_map(_Params(params))


def text(key: str, /, **params: Any) -> str:
    """The sentence `key`, with the standing figures and `params` filled in."""
    return fill(raw(key), **params)


def section(name: str) -> dict[str, str]:
    """One section's templates, unformatted, keyed without the section name (e.g. for the browser)."""
    prefix = f"{name}."
    return {key.removeprefix(prefix): value for key, value in catalogue().items() if key.startswith(prefix)}


def published(name: str) -> dict[str, str]:
    """One section for the browser: the standing figures filled in, every other placeholder left for it."""
    result = section(name)
    for figure, value in figures().items():
        result = {key: template.replace(f"{{{figure}}}", str(value)) for key, template in result.items()}
    return result
