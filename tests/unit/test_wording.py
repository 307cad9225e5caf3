"""The wording catalogue is the one place for user-facing Chinese: nothing typed elsewhere, no key missing, no
sentence dead, every placeholder filled, and the standing figures never typed as text.

Each test prints every offender (file:line), so one run lists all that is left to move.
"""

from __future__ import annotations

import ast
import re
import string
import typing
from collections.abc import Iterator
from pathlib import Path

import pydantic_core

from bdpilot.domain import wording

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "functions" / "bdpilot"
HOOKS = ROOT / "overrides" / "hooks"
WORDING = PACKAGE / "domain" / "wording"
ASSETS = ROOT / "docs" / "assets"
TEMPLATES = ROOT / "overrides"

CJK = re.compile("[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
# Data, not wording: the campaign's facts, and the words of unit names that rules.name_key matches (never shown).
DATA_MODULES = {"domain/campaign.py", "domain/unitwords.py"}
# The models, and the attachment kinds they hold (apart, so the upload step needs no models).
MODELS = {"domain/application.py", "domain/attachments.py"}
# In the models, what a field *is* is data: its title and help text (Field(title=, description=), the positional
# title/description of the Field helpers in fieldtypes.py, an attachment kind's title), and the values of a StrEnum
# (the options of a choice, stored as given). Everything else the models publish comes from the catalogue.
MODEL_TEXT_PARAMS = {"title", "description"}
FIELD_HELPERS = PACKAGE / "domain" / "fieldtypes.py"


def python_files() -> list[Path]:
    return sorted([*PACKAGE.rglob("*.py"), *HOOKS.glob("*.py")])


def label(path: Path) -> str:
    return str(path.relative_to(ROOT))


def parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def docstrings(tree: ast.Module) -> set[int]:
    nodes: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                nodes.add(id(first.value))
    return nodes


def _subtree(node: ast.AST) -> set[int]:
    return {id(n) for n in ast.walk(node)}


def model_text(tree: ast.Module, helpers: ast.Module | None = None) -> set[int]:
    """The nodes of application.py that hold a field's title or help, or an option value (see MODEL_TEXT_PARAMS).
    Positional arguments are matched to the parameters of the functions defined in `tree` and `helpers`."""
    params = {f.name: [a.arg for a in f.args.posonlyargs + f.args.args]
              for module in (tree, helpers) if module for f in module.body if isinstance(f, ast.FunctionDef)}
    exempt: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            for keyword in node.keywords:
                if keyword.arg in MODEL_TEXT_PARAMS:
                    exempt |= _subtree(keyword.value)
            names = params.get(node.func.id, []) if isinstance(node.func, ast.Name) else []
            for name, arg in zip(names, node.args, strict=False):
                if name in MODEL_TEXT_PARAMS:
                    exempt |= _subtree(arg)
        elif isinstance(node, ast.ClassDef) and any(isinstance(b, ast.Name) and b.id == "StrEnum" for b in node.bases):
            for statement in node.body:
                if isinstance(statement, ast.Assign):
                    exempt |= _subtree(statement.value)
    return exempt


class Text(typing.NamedTuple):
    """A str constant of the source: its node (to compare with exemptions), line and value."""

    node: ast.Constant
    lineno: int
    value: str


def strings(tree: ast.Module) -> Iterator[Text]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield Text(node, node.lineno, node.value)


def test_no_chinese_literal_outside_the_catalogue() -> None:
    offenders = []
    for path in python_files():
        relative = path.relative_to(PACKAGE).as_posix() if path.is_relative_to(PACKAGE) else ""
        if relative in DATA_MODULES:
            continue
        tree = parse(path)
        exempt = docstrings(tree) | (model_text(tree, parse(FIELD_HELPERS)) if relative in MODELS else set())
        offenders += [f"{label(path)}:{node.lineno}: {node.value[:40]!r}"
                      for node in strings(tree) if id(node.node) not in exempt and CJK.search(node.value)]
    print("\n".join(offenders))
    assert not offenders, f"{len(offenders)} Chinese literals outside the wording catalogue (listed above)"


def test_the_scan_sees_what_it_exempts() -> None:
    """The exemptions are narrow: a title kept as data counts, a sentence beside it does not."""
    tree = ast.parse('Field(title="名称", description=f"不超过{n}字")\ntext("标题", 60, "说明")\n'
                     'raise E("k", "不能为空")\nclass K(StrEnum):\n    A = "选项"\n')
    exempt = model_text(tree, ast.parse("def text(title, max_length, description): pass"))
    flagged = [n.value for n in strings(tree) if id(n.node) not in exempt and CJK.search(n.value)]
    assert flagged == ["不能为空"]


# --- keys ---------------------------------------------------------------------------------------------------

SECTIONS = sorted(p.stem for p in WORDING.glob("*.toml"))
# A key, or a key's prefix ending in a dot (code that picks the rest at run time: "admin.status." + state).
KEY = re.compile(rf"^(?:{'|'.join(SECTIONS)})\.(?:[A-Za-z_][\w.]*)?$")
# A file name that happens to start with a section's name (requirements/staff.txt) is not a key.
FILE_NAME = re.compile(r"\.(?:txt|toml|json|yaml|py|zip|csv|xlsx|pdf|html)$")
LOOKUPS = {"text", "raw"}
WHOLE = {"section", "published"}


def _wording_call(node: ast.AST, names: set[str]) -> str | None:
    """The literal first argument of `wording.<name>(...)`, if `node` is such a call."""
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in names
            and isinstance(node.func.value, ast.Name) and node.func.value.id == "wording" and node.args
            and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
        return str(node.args[0].value)
    return None


def test_every_key_in_code_is_in_the_catalogue() -> None:
    """A literal key (`wording.text("x.y")`, or a string such as a default `"intake.summary"` that names a key
    of a known section) and every section read whole exist."""
    entries = wording.catalogue()
    missing = []
    for path in python_files():
        tree = parse(path)
        for node in ast.walk(tree):
            line = getattr(node, "lineno", 0)
            key = _wording_call(node, LOOKUPS)
            if key is not None and key not in entries:
                missing.append(f"{label(path)}:{line}: {key}")
            name = _wording_call(node, WHOLE)
            if name is not None and not wording.section(name):
                missing.append(f"{label(path)}:{line}: section {name}")
        missing += [f"{label(path)}:{n.lineno}: {n.value}" for n in strings(tree)
                    if KEY.match(n.value) and not FILE_NAME.search(n.value)
                    and not _names_entries(n.value, entries)]
    print("\n".join(sorted(set(missing))))
    assert not missing


def _names_entries(key: str, entries: dict[str, str]) -> bool:
    """A full key, a section, or a prefix ("admin.status.") under which entries exist."""
    return key in entries or any(e.startswith(key if key.endswith(".") else f"{key}.") for e in entries)


def _js_strings(text: str) -> set[str]:
    return {m.group(2) for m in re.finditer(r"""(["'`])((?:\\.|(?!\1).)*)\1""", text)}


def _code_tokens() -> tuple[set[str], set[str]]:
    """Every string the code may look an entry up by (Python constants and f-string parts, numbers, JS and
    template string literals, JS property names), and the prefixes under which it picks entries at run time:
    a constant ending in a dot ("admin.cli." in f"admin.cli.{key}"), or a section or table that a module reading
    tables whole (`wording.section`, `wording.published`) names ("admin.list", or errors.SECTIONS)."""
    entries = wording.catalogue()
    tokens: set[str] = set()
    prefixes: set[str] = set()
    for path in python_files():
        tree = parse(path)
        constants = {n.value for n in strings(tree)}
        tokens |= constants | {str(n.value) for n in ast.walk(tree)
                               if isinstance(n, ast.Constant) and isinstance(n.value, int)}
        prefixes |= {c for c in constants if c.endswith(".") and KEY.match(c)}
        if any(isinstance(n, ast.Attribute) and n.attr in WHOLE and isinstance(n.value, ast.Name)
               and n.value.id == "wording" for n in ast.walk(tree)):
            prefixes |= {f"{c}." for c in constants if any(e.startswith(f"{c}.") for e in entries)}
    for path in [*ASSETS.glob("*.js"), *TEMPLATES.rglob("*.html")]:
        text = path.read_text(encoding="utf-8")
        tokens |= _js_strings(text) | set(re.findall(r"\.([A-Za-z_]\w*)", text))
    return tokens, prefixes


def test_every_catalogue_entry_is_used() -> None:
    """No dead sentence. An entry is used when its full key appears in the code, or a prefix the code picks
    entries under does and the rest of the key too: for the field-error templates (errors, formats, rules), an
    error kind we raise or pydantic's, or `missing.<widget>`."""
    tokens, prefixes = _code_tokens()
    pydantic_kinds = set(typing.get_args(pydantic_core.core_schema.ErrorType))

    def picked(rest: str) -> bool:
        # A rest with a dot may be put together from two parts: f"missing.{widget}", f"{command}.help".
        head, dot, tail = rest.partition(".")
        return (rest in tokens or rest in pydantic_kinds
                or bool(dot and {head, f"{head}."} & tokens and {tail, f".{tail}"} & tokens))

    dead = [key for key in wording.catalogue()
            if key not in tokens and not any(key.startswith(p) and picked(key.removeprefix(p)) for p in prefixes)]
    print("\n".join(dead))
    assert not dead, f"{len(dead)} catalogue entries used nowhere (listed above)"


# --- placeholders -------------------------------------------------------------------------------------------

def placeholders(template: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}


def test_every_template_formats_with_named_parameters() -> None:
    problems = []
    for key, template in wording.catalogue().items():
        try:
            names = placeholders(template)
            bad = sorted(n for n in names if not n.isidentifier())
            if bad:
                problems.append(f"{key}: placeholders must be plain names, not {bad}")
                continue
            wording.text(key, **{n: "x" for n in names - wording.figures().keys()})
        except (ValueError, KeyError, IndexError) as exc:
            problems.append(f"{key}: {exc!r}")
    print("\n".join(problems))
    assert not problems


def test_every_literal_lookup_passes_what_its_template_needs() -> None:
    entries = wording.catalogue()
    unfilled = []
    for path in python_files():
        for node in ast.walk(parse(path)):
            key = _wording_call(node, {"text"})
            if key is None or key not in entries or not isinstance(node, ast.Call):
                continue
            if any(k.arg is None for k in node.keywords):
                continue  # **params: not known here
            given = {k.arg for k in node.keywords if k.arg} | wording.figures().keys()
            if lacking := placeholders(entries[key]) - given:
                unfilled.append(f"{label(path)}:{node.lineno}: {key} needs {sorted(lacking)}")
    print("\n".join(unfilled))
    assert not unfilled


# --- the standing figures -----------------------------------------------------------------------------------

def figure_patterns() -> re.Pattern[str]:
    """The upload limit and the files per kind as they would be typed: "20MB", "20 MB", "5个", "5 个"."""
    figures = wording.figures()
    limit = re.escape(str(figures["upload_limit"])).replace(r"\ ", " ").replace(" ", r"\s?")
    return re.compile(rf"(?<![\d.]){limit}|(?<![\d.]){figures['per_kind']}\s?个")


def test_the_standing_figures_are_never_typed() -> None:
    typed = figure_patterns()
    found = [f"{label(WORDING)}/{key}: {text}" for key, text in wording.catalogue().items() if typed.search(text)]
    for path in PACKAGE.rglob("*.py"):
        tree = parse(path)
        skip = docstrings(tree)
        found += [f"{label(path)}:{n.lineno}: {n.value[:60]!r}" for n in strings(tree)
                  if id(n.node) not in skip and typed.search(n.value)]
    for path in ASSETS.glob("*.js"):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = re.sub(r"^\s*(//|\*|/\*).*", "", line)
            found += [f"{label(path)}:{number}: {s[:60]!r}" for s in _js_strings(code) if typed.search(s)]
    print("\n".join(found))
    assert not found, "a standing figure typed as text: use {upload_limit} / {per_kind} or wording.figures()"


def test_the_figure_patterns_catch_both_spellings() -> None:
    typed, figures = figure_patterns(), wording.figures()
    limit, per_kind = str(figures["upload_limit"]), figures["per_kind"]
    assert all(typed.search(s) for s in (f"超过{limit.replace(' ', '')}", f"不超过{limit}", f"最多上传{per_kind}个文件",
                                         f"{per_kind} 个"))
    assert not any(typed.search(s) for s in (f"1{limit}", f"1{per_kind}个", f"2.{per_kind}个"))
