"""Chinese messages for everything that can be wrong with a 申报书, one entry per failing field.

The templates are published in the form's JSON Schema (`x-messages`), so the browser and the server word the
same problem the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from bdpilot.domain import formats

TEMPLATES: dict[str, str] = {
    "missing": "请填写{title}",
    "missing.select": "请选择{title}",
    "missing.pledge": "请阅读并勾选{title}",
    "missing.attachments": "请上传{title}",
    "string_too_short": "请填写{title}",
    "string_too_long": "{title}不能超过{max_length}个字（现为{actual_length}个字）",
    "string_type": "{title}应为文字",
    "string_pattern_mismatch": "{title}格式不正确",
    "int_type": "{title}应为整数",
    "int_parsing": "{title}应为整数",
    "int_from_float": "{title}应为整数",
    "greater_than_equal": "{title}不能小于{ge}",
    "greater_than": "{title}应大于{gt}",
    "less_than_equal": "{title}不能大于{le}",
    "decimal_type": "{title}应为数字",
    "decimal_parsing": "{title}应为数字",
    "decimal_max_places": "{title}最多保留两位小数",
    "decimal_max_digits": "{title}数值过大",
    "decimal_whole_digits": "{title}数值过大",
    "date_type": "{title}应为有效日期，如2020-01-31",
    "date_parsing": "{title}应为有效日期，如2020-01-31",
    "date_from_datetime_parsing": "{title}应为有效日期，如2020-01-31",
    "date_from_datetime_inexact": "{title}应为有效日期，如2020-01-31",
    "bool_type": "{title}应为是或否",
    "bool_parsing": "{title}应为是或否",
    "enum": "请从列表中选择{title}",
    "literal_error": "请从列表中选择{title}",
    "choice": "请从列表中选择{title}",
    "model_type": "{title}应为一组字段",
    "model_attributes_type": "{title}应为一组字段",
    "dict_type": "{title}应为一组字段",
    "list_type": "{title}应为列表",
    "too_long": "{title}最多{max_length}项",
    "too_short": "{title}至少需要{min_length}项",
    "extra_forbidden": "表单中没有“{title}”这一项，请勿提交表单以外的内容",
    "control_chars": "{title}含有不可见的控制字符，请删除后重试",
    "lone_surrogate": "{title}含有无法识别的字符，请删除后重新输入",
    "too_many_keys": "{title}含有{count}项表单以外的内容，请勿提交表单以外的内容",
    "date_in_future": "{title}不能晚于今天",
    "invalid": "{title}填写不正确",
    **formats.MESSAGES,
}


# An answer lists at most this many failing fields; the summary says how many more there are.
MAX_LISTED = 30
# A key that is not the form's is quoted in its message at most this long.
SHOWN_CHARS = 40


@dataclass(frozen=True)
class FieldError:
    path: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if get_origin(annotation) is list:
        annotation = get_args(annotation)[0]
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def field_info(model: type[BaseModel], loc: tuple[str | int, ...]) -> FieldInfo | None:
    """The pydantic FieldInfo that a location such as ("applicant", "uscc") points at."""
    info: FieldInfo | None = None
    current: type[BaseModel] | None = model
    for part in loc:
        if isinstance(part, int):
            continue
        if current is None or part not in current.model_fields:
            return None
        info = current.model_fields[part]
        current = _model_of(info.annotation)
    return info


def _widget(info: FieldInfo | None) -> str | None:
    extra = info.json_schema_extra if info else None
    return extra.get("x-widget") if isinstance(extra, dict) else None  # type: ignore[return-value]


def _message(model: type[BaseModel], error: Any, loc: tuple[str | int, ...]) -> str:
    info = field_info(model, loc)
    named = [p for p in loc if isinstance(p, str)]
    title = (info.title if info and info.title else None) or (shown(named[-1]) if named else "申报书")
    kind = error["type"]
    if kind in ("too_long", "too_short") and isinstance(error.get("input"), str):
        kind = f"string_{kind}"
    if error.get("input") == "" and kind in _EMPTY_MEANS_MISSING:
        # An empty box is a missing answer, not a badly formatted one.
        kind = "missing"
    if kind == "missing" and f"missing.{_widget(info)}" in TEMPLATES:
        kind = f"missing.{_widget(info)}"
    extra = info.json_schema_extra if info else None
    if kind == "string_pattern_mismatch" and isinstance(extra, dict) and "x-messages" in extra:
        return extra["x-messages"]["pattern"]  # type: ignore[index]
    template = TEMPLATES.get(kind)
    if template is None:
        # Our own PydanticCustomError messages are complete Chinese sentences; pydantic's are English.
        return error["msg"] if _CJK.search(error["msg"]) else TEMPLATES["invalid"].format(title=title)
    ctx = dict(error.get("ctx") or {})
    value = error.get("input")
    ctx.setdefault("actual_length", len(value) if isinstance(value, str | list) else "")
    try:
        return template.format(title=title, **ctx)
    except (KeyError, IndexError):
        return TEMPLATES["invalid"].format(title=title)


_EMPTY_MEANS_MISSING = frozenset({"string_too_short", "date_parsing", "date_from_datetime_parsing", "int_parsing",
                                  "decimal_parsing", "enum", "choice", "bool_parsing"} | formats.MESSAGES.keys())

_CJK = re.compile(r"[\u4e00-\u9fff]")


def field_errors(model: type[BaseModel], exc: ValidationError, prefix: str = "") -> list[FieldError]:
    """Every failing field of a validation, with its dotted path and a Chinese message, in form order."""
    result: list[FieldError] = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        field = (error.get("ctx") or {}).get("field")
        if field:
            # Cross-field rules raise on their section; point the message at the field a person must change.
            loc = (*loc, field)
        path = ".".join(str(p) for p in (prefix, *loc) if p != "")
        result.append(FieldError(path, _message(model, error, loc)))
    return result


def shown(name: str) -> str:
    """A key the client chose, fit to quote: shortened, and a lone surrogate (which cannot be encoded) as "?"."""
    name = name.encode("utf-8", "replace").decode("utf-8")
    return name if len(name) <= SHOWN_CHARS else name[:SHOWN_CHARS] + "…"


def listed(summary: str, fields: list[FieldError]) -> tuple[str, list[FieldError]]:
    """The summary and the field errors an answer carries: at most MAX_LISTED, and how many more in the summary."""
    hidden = len(fields) - MAX_LISTED
    if hidden <= 0:
        return summary, fields
    return f"{summary}（另有{hidden}处问题未列出）", fields[:MAX_LISTED]
