"""The zips ship bytecode compiled by the runtime's own Python (unchecked-hash pycs, /var/task paths), so a cold
start on Lambda compiles nothing. The core is proved with the interpreter running the tests (a template declaring
its python3.x); one test builds the real zips with a real python3.12 when this machine has one."""

from __future__ import annotations

import copy
import importlib.util
import json
import marshal
import os
import platform
import stat
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from bdpilot.ops import deploy, stack
from bdpilot.ops.deploy import closure, package
from bdpilot.ops.deploy.package import PackageError, RuntimePython
from bdpilot.ops.local import rest_event

MAX_ZIP_BYTES = 10 * 1024 * 1024  # as for the sources-only zip (test_deploy.py): bytecode must not burst it
CURRENT = sys.version_info[:2]
TAG = sys.implementation.cache_tag
SOURCE_RAN = "the altered source ran instead of the shipped bytecode"
# What the function needs in its environment to import (bdpilot.settings is checked at import).
FUNCTION_ENV = {"BDPILOT_SECRET": "zip-test-secret-0123456789", "BDPILOT_TABLE": "t", "BDPILOT_BUCKET": "b",
                "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
                "POWERTOOLS_METRICS_NAMESPACE": "bdpilot", "POWERTOOLS_SERVICE_NAME": "bdpilot"}


def with_runtime(template: dict[str, Any], version: tuple[int, int], architecture: str | None = None) -> dict[str, Any]:
    """A copy of the template whose functions all declare python`version` (and `architecture`, if given)."""
    changed = copy.deepcopy(template)
    for resource in changed["Resources"].values():
        if resource["Type"] == "AWS::Lambda::Function":
            resource["Properties"]["Runtime"] = f"python{version[0]}.{version[1]}"
            if architecture:
                resource["Properties"]["Architectures"] = [architecture]
    return changed


def build_public(out_dir: Path, template: dict[str, Any], python: RuntimePython | None) -> Path:
    """The public function's zip alone, as build_package builds it (the staff lock has no wheels for every
    python3.x this suite may run on)."""
    return package.build_zip(out_dir, template, package.FUNCTION_LOGICAL_ID, closure.HANDLER_MODULE,
                             package.FUNCTION_LOCK, package.ZIP_NAME, python=python)


def without_override() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != package.RUNTIME_PYTHON_ENV}


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], RuntimePython]:
    """The public zip for a template declaring this interpreter's version, compiled by the interpreter found."""
    template = with_runtime(stack.load_template(), CURRENT)
    python = package.runtime_python(template, environ=without_override())
    assert python == RuntimePython(sys.executable, CURRENT, TAG)  # it fits, so it is the one found first
    return build_public(tmp_path_factory.mktemp("bytecode"), template, python), template, python


def unpack_bdpilot(archive: Path, out: Path) -> Path:
    """The zip's bdpilot package, sources and pycs (its dependencies are arm64 wheels: a probe takes those from
    the venv)."""
    with zipfile.ZipFile(archive) as bundle:
        bundle.extractall(out, [n for n in bundle.namelist() if n.startswith("bdpilot/")])
    return out


def run_python(python: str, script: str, *path: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """`script` in a fresh interpreter without site (so not the editable install) and writing no bytecode: only
    what the zip ships is used."""
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": os.pathsep.join(path), "PYTHONDONTWRITEBYTECODE": "1",
           **FUNCTION_ENV}
    return subprocess.run([python, "-S", "-c", script], input=stdin, capture_output=True, text=True, env=env,
                          timeout=120)


# ---------------------------------------------------------------- the zip compiled by this interpreter


def test_every_module_ships_its_unchecked_hash_pyc_and_no_other(compiled: tuple[Path, Any, RuntimePython]) -> None:
    archive, _, python = compiled
    assert archive.stat().st_size <= MAX_ZIP_BYTES
    with zipfile.ZipFile(archive) as bundle:
        names = set(bundle.namelist())
        sources = {PurePosixPath(n) for n in names if n.endswith(".py")}
        expected = {(s.parent / "__pycache__" / f"{s.stem}.{python.cache_tag}.pyc").as_posix() for s in sources}
        assert {n for n in names if n.endswith(".pyc") or "__pycache__" in n} == expected
        assert {"bdpilot/web/__pycache__/api", "pydantic/__pycache__/main",
                "aws_lambda_powertools/logging/__pycache__/logger"} <= {n.rsplit(".", 2)[0] for n in expected}
        for name in sorted(expected):
            pyc = bundle.read(name)
            shipped = name.replace("__pycache__/", "").replace(f".{python.cache_tag}.pyc", ".py")
            source = bundle.read(shipped)
            assert pyc[:4] == importlib.util.MAGIC_NUMBER, name
            # PEP 552 flags: hash-based (bit 0), not checked against the source (bit 1 clear).
            assert int.from_bytes(pyc[4:8], "little") == 0b01, name
            assert pyc[8:16] == importlib.util.source_hash(source), name
            # The paths Lambda unpacks to, not the build folder's (which would make every build differ).
            assert marshal.loads(pyc[16:]).co_filename == f"/var/task/{shipped}", name


def test_the_same_inputs_give_the_same_zip_byte_for_byte(compiled: tuple[Path, dict[str, Any], RuntimePython],
                                                         tmp_path: Path) -> None:
    archive, template, python = compiled
    assert build_public(tmp_path, template, python).read_bytes() == archive.read_bytes()


def test_the_shipped_bytecode_runs_not_the_source(compiled: tuple[Path, Any, RuntimePython], tmp_path: Path) -> None:
    """A source altered after the build does not matter: the pyc is loaded without checking it. (Its code names
    /var/task; loaded from elsewhere, as here, the import system renames it to where the file is.)"""
    archive, _, python = compiled
    root = unpack_bdpilot(archive, tmp_path / "unpacked")
    with (root / "bdpilot" / "web" / "api.py").open("a", encoding="utf-8") as source:
        source.write(f"\nraise RuntimeError({SOURCE_RAN!r})\n")
    purelib = sysconfig.get_paths()["purelib"]
    result = run_python(sys.executable, "import bdpilot.web.api as api; print(api.__file__)", str(root), purelib)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == [str(root / "bdpilot" / "web" / "api.py")]  # the zip's, not the checkout's

    # Without its pyc the altered source runs, and fails: the import above ran the shipped bytecode.
    (root / "bdpilot" / "web" / "__pycache__" / f"api.{python.cache_tag}.pyc").unlink()
    result = run_python(sys.executable, "import bdpilot.web.api", str(root), purelib)
    assert result.returncode != 0 and SOURCE_RAN in result.stderr


def test_only_the_runtime_tags_pycs_of_shipped_sources_go_in_the_zip(tmp_path: Path) -> None:
    tree = tmp_path / "build"
    for name in ("pkg/mod.py", f"pkg/__pycache__/mod.{TAG}.pyc", "pkg/__pycache__/mod.cpython-39.pyc",
                 f"pkg/__pycache__/gone.{TAG}.pyc", "pkg/sourceless.pyc", "pkg/data.toml"):
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_bytes(b"x = 1\n")
    shipped = {p.relative_to(tree).as_posix() for p in package.files(tree, TAG)}
    assert shipped == {"pkg/mod.py", f"pkg/__pycache__/mod.{TAG}.pyc", "pkg/data.toml"}
    assert {p.relative_to(tree).as_posix() for p in package.files(tree)} == {"pkg/mod.py", "pkg/data.toml"}

    # Compiling starts from no bytecode: what a wheel brought along is gone, each module gets its own.
    package.compile_bytecode(tree, RuntimePython(sys.executable, CURRENT, TAG))
    assert sorted(p.relative_to(tree).as_posix() for p in tree.rglob("*.pyc")) == [f"pkg/__pycache__/mod.{TAG}.pyc"]
    assert (tree / "pkg" / "__pycache__" / f"mod.{TAG}.pyc").read_bytes()[4:8] == b"\x01\x00\x00\x00"


def test_a_module_that_does_not_compile_fails_the_build_clearly(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("def f(:\n", encoding="utf-8")
    with pytest.raises(PackageError, match="could not compile") as refused:
        package.compile_bytecode(tmp_path, RuntimePython(sys.executable, CURRENT, TAG))
    assert "broken.py" in str(refused.value)


# ---------------------------------------------------------------- which interpreter compiles


def fake_python(path: Path, report: str | None) -> str:
    """An executable that answers the version probe with `report` ("3 12 cpython-312"), or fails as a pyenv shim
    of an unselected version does (None)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + (f"echo '{report}'\n" if report else "echo 'pyenv: not selected' >&2\nexit 127\n"),
                    encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


@pytest.fixture
def template_312(template: dict[str, Any]) -> dict[str, Any]:
    return with_runtime(template, (3, 12))


def test_runtime_python_is_found_in_order_and_verified(template_312: dict[str, Any], tmp_path: Path) -> None:
    good, old = "3 12 cpython-312", "3 11 cpython-311"
    named = fake_python(tmp_path / "named" / "python", good)
    this_good, this_old = fake_python(tmp_path / "this" / "good", good), fake_python(tmp_path / "this" / "old", old)
    on_path = fake_python(tmp_path / "bin" / "python3.12", good)
    fake_python(tmp_path / "shims" / "python3.12", None)
    pyenv = tmp_path / "pyenv"
    newest = fake_python(pyenv / "versions" / "3.12.10" / "bin" / "python3.12", good)
    fake_python(pyenv / "versions" / "3.12.9" / "bin" / "python3.12", good)
    fake_python(pyenv / "versions" / "3.13.0" / "bin" / "python3.13", "3 13 cpython-313")
    home = tmp_path / "home"
    in_home = fake_python(home / ".pyenv" / "versions" / "3.12.1" / "bin" / "python3.12", good)
    pypy = fake_python(tmp_path / "pypy" / "python3.12", "3 12 pypy312")

    shims, bin_dir, pypy_dir = str(tmp_path / "shims"), str(tmp_path / "bin"), str(Path(pypy).parent)

    def found(executable: str, environ: dict[str, str], home: Path = tmp_path / "nohome") -> str:
        return package.runtime_python(template_312, environ=environ, executable=executable, home=home).path

    # The variable first, before an interpreter that would fit as well; then this interpreter.
    assert found(this_good, {package.RUNTIME_PYTHON_ENV: named, "PATH": bin_dir}) == named
    assert found(this_good, {"PATH": bin_dir}) == this_good
    # Then python3.12 on PATH; a shim that does not run is passed over, for the next on PATH or pyenv's newest.
    assert found(this_old, {"PATH": os.pathsep.join([shims, bin_dir])}) == on_path
    assert found(this_old, {"PATH": shims, "PYENV_ROOT": str(pyenv)}) == newest
    assert found(this_old, {"PATH": shims}, home) == in_home  # ~/.pyenv without PYENV_ROOT
    # Not CPython 3.12 (another cache tag): never used.
    assert found(this_old, {"PATH": os.pathsep.join([pypy_dir, bin_dir])}) == on_path


@pytest.mark.parametrize("environ, expected", [
    ({}, "no python3.12 to compile"),
    ({"PATH": "{shims}"}, "no python3.12 to compile"),
    ({package.RUNTIME_PYTHON_ENV: "{old}", "PATH": "{bin}"}, "is Python 3.11"),
    ({package.RUNTIME_PYTHON_ENV: "{shims}/python3.12", "PATH": "{bin}"}, "does not run"),
], ids=["nothing", "shim-only", "named-wrong-version", "named-broken"])
def test_runtime_python_refuses_with_the_ways_to_fix_it(template_312: dict[str, Any], tmp_path: Path,
                                                       environ: dict[str, str], expected: str) -> None:
    """A wrong interpreter named is refused, never passed over for another (it is what the operator asked for)."""
    places = {"old": fake_python(tmp_path / "old" / "python", "3 11 cpython-311"),
              "shims": str(Path(fake_python(tmp_path / "shims" / "python3.12", None)).parent),
              "bin": str(Path(fake_python(tmp_path / "bin" / "python3.12", "3 12 cpython-312")).parent)}
    with pytest.raises(PackageError) as refused:
        package.runtime_python(template_312, environ={k: v.format(**places) for k, v in environ.items()},
                               executable=places["old"], home=tmp_path / "nohome")
    message = str(refused.value)
    assert expected in message
    assert "install python3.12" in message and package.RUNTIME_PYTHON_ENV in message and "--no-bytecode" in message


def test_a_template_for_another_python_is_refused_before_anything_is_built(
        template: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """E.g. python3.12 declared and BDPILOT_RUNTIME_PYTHON naming a 3.11: its pycs would be dead weight on Lambda."""
    other = (3, 12) if CURRENT != (3, 12) else (3, 11)
    monkeypatch.setenv(package.RUNTIME_PYTHON_ENV, sys.executable)
    with pytest.raises(PackageError, match=f"the functions run python3.{other[1]}") as refused:
        deploy.build_package(tmp_path / "out", with_runtime(template, other))
    assert f"is Python {CURRENT[0]}.{CURRENT[1]}" in str(refused.value) and "--no-bytecode" in str(refused.value)
    assert not (tmp_path / "out").exists()


def test_the_functions_must_declare_one_python(template: dict[str, Any]) -> None:
    declared = template["Resources"][package.FUNCTION_LOGICAL_ID]["Properties"]["Runtime"]
    assert package.runtime_version(template) == (3, int(declared.removeprefix("python3.")))
    mixed = with_runtime(template, (3, 12))
    mixed["Resources"][package.STAFF_FUNCTION_LOGICAL_ID]["Properties"]["Runtime"] = "python3.13"
    with pytest.raises(PackageError, match=r"one python3\.x Runtime"):
        package.runtime_version(mixed)
    assert package.runtime_version(with_runtime(template, (3, 13))) == (3, 13)


def test_deploy_takes_no_bytecode_option() -> None:
    assert deploy.parse_args(["--stage", "test"]).bytecode is True
    assert deploy.parse_args(["--stage", "test", "--no-bytecode"]).bytecode is False


# ---------------------------------------------------------------- the real zips, with a real python3.12


@pytest.fixture(scope="module")
def python_312() -> RuntimePython:
    try:
        return package.runtime_python(stack.load_template(), environ=without_override())
    except PackageError as missing:
        pytest.skip(f"no interpreter of the functions' runtime here: {str(missing).splitlines()[0]}")


@pytest.mark.slow
def test_real_zips_compiled_by_the_runtime_python_answer_under_it(python_312: RuntimePython, tmp_path: Path) -> None:
    """Every zip of the real template, built for this machine's architecture (so the wheels load here): only the
    runtime's pycs, and the public handler answers from the unpacked zip under that interpreter, from bytecode."""
    machine = {"x86_64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine())
    if machine is None:
        pytest.skip(f"Lambda has no wheels for {platform.machine()}")
    template = stack.load_template()
    template = with_runtime(template, package.runtime_version(template), machine)
    archive = deploy.build_package(tmp_path / "build", template, python=python_312)
    for built in (archive, package.staff_zip(archive), package.receipt_zip(archive), package.mailqueue_zip(archive)):
        with zipfile.ZipFile(built) as bundle:
            names = bundle.namelist()
        pycs = [n for n in names if n.endswith(".pyc")]
        assert len(pycs) == sum(n.endswith(".py") for n in names), built.name
        assert all(n.endswith(f".{python_312.cache_tag}.pyc") for n in pycs), built.name

    root = tmp_path / "unpacked"
    with zipfile.ZipFile(archive) as bundle:
        bundle.extractall(root)
    with (root / "bdpilot" / "web" / "api.py").open("a", encoding="utf-8") as source:
        source.write(f"\nraise RuntimeError({SOURCE_RAN!r})\n")
    probe = (
        "import json, sys\n"
        "from types import SimpleNamespace\n"
        "import bdpilot.web.api as api, pydantic\n"
        "assert pydantic.__file__.startswith(sys.argv[1]), pydantic.__file__\n"
        "context = SimpleNamespace(function_name='f', memory_limit_in_mb=512, aws_request_id='r',\n"
        "                          invoked_function_arn='arn:aws:lambda:us-east-1:123456789012:function:f')\n"
        "answer = api.handler(json.load(sys.stdin), context)\n"
        "print(json.dumps({'status': answer['statusCode'], 'cached': api.__cached__}))\n"
    )
    # boto3 is the runtime's (not in the zip): the venv's, pure Python, after the zip's own packages.
    result = run_python(python_312.path, probe.replace("sys.argv[1]", repr(str(root))), str(root),
                        sysconfig.get_paths()["purelib"], stdin=json.dumps(rest_event("GET", "/api/campaign")))
    assert result.returncode == 0, result.stderr[-3000:]
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer == {"status": 200, "cached": str(root / "bdpilot" / "web" / "__pycache__" /
                                                  f"api.{python_312.cache_tag}.pyc")}
