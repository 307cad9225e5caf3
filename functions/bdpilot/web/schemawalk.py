"""The 申报书's structure as the form and the printed copies see it: sections and fields, walked from the
models' JSON Schema (`application.form_schema()`), and the posted answers flattened to the dotted paths the
controls are named by ("application.applicant.uscc"); ids are the same path with "-".

Nothing here lists a field by hand, and nothing here draws HTML: formhtml (the form), printcopy (the copy
printed after submitting) and draftcopy (the blank copy for drafting offline) all walk the schema through here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ROOT = "application"


@dataclass(frozen=True)
class Field:
    path: str
    title: str
    description: str
    widget: str
    required: bool
    spec: dict[str, Any]

    @property
    def id(self) -> str:
        return field_id(self.path)

    @property
    def options(self) -> list[tuple[str, str]]:
        """(value, label) pairs of a select."""
        values = self.spec.get("enum") or []
        labels = self.spec.get("x-labels") or values
        return [(str(v), str(lab)) for v, lab in zip(values, labels, strict=True)]


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    description: str
    widget: str  # "section" | "attachments" | "pledge"
    fields: list[Field] = field(default_factory=list)
    spec: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return field_id(f"{ROOT}.{self.key}")


def field_id(path: str) -> str:
    return path.replace(".", "-")


def resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """A property with its `$ref` (if any) merged in; the property's own keys (title, x-widget) win."""
    ref = node.get("$ref")
    if not ref:
        return node
    target = schema["$defs"][ref.rsplit("/", 1)[-1]]
    return {**target, **{k: v for k, v in node.items() if k != "$ref"}}


def sections(schema: dict[str, Any]) -> list[Section]:
    """The form's fieldsets in schema order: one per object section, then attachments and the pledge."""
    result = []
    for key, prop in schema["properties"].items():
        node = resolve(schema, prop)
        widget = node.get("x-widget") or ("section" if node.get("type") == "object" else "text")
        path = f"{ROOT}.{key}"
        if widget == "section":
            required = set(node.get("required", []))
            fields = [
                Field(f"{path}.{name}", sub["title"], sub.get("description") or "",
                      sub.get("x-widget") or "text", name in required, sub)
                for name, raw in node["properties"].items()
                for sub in [resolve(schema, raw)]
            ]
            result.append(Section(key, node["title"], node.get("description") or "", widget, fields, node))
        else:
            one = Field(path, node["title"], node.get("description") or "", widget,
                        key in schema.get("required", []), node)
            result.append(Section(key, node["title"], node.get("description") or "", widget, [one], node))
    return result


def all_fields(schema: dict[str, Any]) -> list[Field]:
    return [f for s in sections(schema) for f in s.fields]



def _flatten(value: Any, prefix: str, out: dict[str, Any]) -> dict[str, Any]:
    if isinstance(value, Mapping):
        for k, v in value.items():
            _flatten(v, f"{prefix}.{k}", out)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _flatten(v, f"{prefix}.{i}", out)
    else:
        out[prefix] = value
    return out


def flatten(application: Mapping[str, Any] | None) -> dict[str, Any]:
    """{"cover": {"direction": 3}} → {"application.cover.direction": 3}."""
    return _flatten(application or {}, ROOT, {})


def attachment_items(values: Mapping[str, Any]) -> list[dict[str, str]]:
    items: dict[int, dict[str, str]] = {}
    prefix = f"{ROOT}.attachments."
    for path, value in values.items():
        if path.startswith(prefix):
            index, _, key = path[len(prefix):].partition(".")
            if index.isdigit() and key:
                items.setdefault(int(index), {})[key] = "" if value is None else str(value)
    return [items[i] for i in sorted(items)]



def section_anchor(section: Section) -> str:
    """The id of a section's fieldset (the pledge's own checkbox has the section's id, so its fieldset differs)."""
    return f"{section.id}-section" if section.widget == "pledge" else section.id

