"""What the function zip holds and where its versions come from: the lock files, and only the modules the public
handler imports (never the operator tools), enough to answer a request on its own."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import pytest

from bdpilot.ops import deploy
from bdpilot.ops.deploy import closure, lock, package
from bdpilot.ops.local import rest_event

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
REQUIREMENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*")


def declared(requirements: list[str]) -> set[str]:
    """Project names of requirement strings, normalized (extras, versions and self-references left out)."""
    names = {lock.normalize(REQUIREMENT_NAME.match(r)[0]) for r in requirements}  # type: ignore[index]
    return names - {"bdpilot"}


def lock_entries(path: Path) -> list[str]:
    """Each requirement of a lock file with its continuation lines joined (comments dropped)."""
    entries: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if line.startswith((" ", "\t")) and entries:
            entries[-1] += " " + stripped
        else:
            entries.append(stripped)
    return entries


@pytest.mark.parametrize("path", [lock.FUNCTION_LOCK, lock.DEV_LOCK], ids=lambda p: p.name)
def test_lock_pins_every_requirement_exactly_with_hashes(path: Path) -> None:
    entries = lock_entries(path)
    assert entries
    for entry in entries:
        assert lock.PIN.match(entry), f"not an exact pin: {entry[:80]}"
        assert "--hash=sha256:" in entry, f"no hash: {entry[:80]}"
        assert not entry.startswith(("-e", "file:", "git+")), entry[:80]


def test_locks_cover_what_pyproject_declares() -> None:
    project = PYPROJECT["project"]
    function, dev = lock.pins(lock.FUNCTION_LOCK), lock.pins(lock.DEV_LOCK)
    # The zip: every runtime dependency except what Lambda provides; nothing of boto3 pulled in by accident.
    assert declared(deploy.runtime_requirements()) <= set(function)
    assert not set(deploy.PROVIDED_BY_RUNTIME) & set(function)
    # make / CI: every dependency of every extra, the lint and type tools included.
    extras = [r for group in project["optional-dependencies"].values() for r in group]
    assert declared(project["dependencies"] + extras) <= set(dev)
    assert {"ruff", "cfn-lint", "mypy", "pre-commit", "uv"} <= set(dev)
    # What ships is what was tested: the function's versions are the ones the tests ran against.
    assert {name: dev[name] for name in function if name in dev} == function


def test_package_installs_from_the_lock_and_checks_hashes(template: dict[str, Any], tmp_path: Path) -> None:
    command = package.pip_command(tmp_path, template)
    assert command[command.index("-r") + 1] == str(lock.FUNCTION_LOCK)
    assert "--require-hashes" in command
    assert not any(arg.startswith(("pydantic", "aws-lambda-powertools", "boto3")) for arg in command)


def test_makefile_installs_from_the_lock() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "--require-hashes -r $(LOCK)" in makefile and "LOCK := requirements/dev.txt" in makefile
    assert "--no-deps" in makefile
    assert not re.search(r"pip install[^\n]*'\.\[", makefile), "an install that resolves versions itself"


def test_closure_follows_imports_inside_functions_and_leaves_out_operator_tools(tmp_path: Path) -> None:
    package = tmp_path / "bdpilot"
    for name, text in {
        "__init__.py": "",
        "web/__init__.py": "",
        "web/api.py": "from bdpilot.domain import rules\n\ndef later():\n    from . import pages\n",
        "web/pages.py": "from ..domain.words import TEXT\n",
        "domain/__init__.py": "",
        "domain/rules.py": "import json\n",
        "domain/words.py": "TEXT = 1\n",
        "domain/unused.py": "",
        "ops/__init__.py": "",
        "ops/admin.py": "from bdpilot.web import api\n",
    }.items():
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_text(text, encoding="utf-8")
    assert closure.module_closure(package) == {
        "bdpilot", "bdpilot.web", "bdpilot.web.api", "bdpilot.web.pages", "bdpilot.domain", "bdpilot.domain.rules",
        "bdpilot.domain.words"}


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The public function's zip, built once with the others beside it (staff, receipt, mail queue); sources only
    (the bytecode: test_deploy_bytecode.py)."""
    from bdpilot.ops import stack

    return deploy.build_package(tmp_path_factory.mktemp("zip") / "build", stack.load_template(), bytecode=False)


@pytest.fixture(scope="module")
def unpacked(archive: Path) -> tuple[set[str], Path]:
    """The built zip's entry names, and its bdpilot package unpacked (the dependencies in it are arm64 wheels,
    which this machine may not load: the subprocess takes those from the venv)."""
    out = archive.parent.parent
    with zipfile.ZipFile(archive) as bundle:
        names = set(bundle.namelist())
        bundle.extractall(out / "unpacked", [n for n in names if n.startswith("bdpilot/")])
    return names, out / "unpacked"


@pytest.mark.slow
def test_zip_holds_the_handlers_closure_and_no_operator_code(unpacked: tuple[set[str], Path]) -> None:
    names, _ = unpacked
    package_dir = deploy.PACKAGE_DIR
    modules = closure.module_closure(package_dir)
    assert {"bdpilot.web.api", "bdpilot.intake.submission", "bdpilot.domain.wording"} <= modules
    for module in modules:
        source = closure.module_path(package_dir, module)
        assert source is not None
        assert "bdpilot/" + source.relative_to(package_dir).as_posix() in names, module
    assert not [n for n in names if n.startswith("bdpilot/ops/")]
    assert {"bdpilot/domain/wording/common.toml"} <= names  # package data the catalogue reads at run time
    shipped = {n for n in names if n.startswith("bdpilot/") and n.endswith(".py")}
    assert len(shipped) == len(modules)  # nothing beyond the closure


@pytest.mark.slow
def test_handler_answers_from_the_zip_alone(unpacked: tuple[set[str], Path]) -> None:
    """A fresh interpreter without site (so not the editable install): bdpilot from the zip, its dependencies
    from the venv; GET /api/campaign answers 200 with the window and a form token."""
    _, root = unpacked
    probe = (
        "import json, sys\n"
        "import bdpilot.web.api as api\n"
        "assert api.__file__.startswith(sys.argv[1]), api.__file__\n"
        "from types import SimpleNamespace\n"
        "context = SimpleNamespace(function_name='f', memory_limit_in_mb=512, aws_request_id='r',\n"
        "                          invoked_function_arn='arn:aws:lambda:us-east-1:123456789012:function:f')\n"
        "answer = api.handler(json.load(sys.stdin), context)\n"
        "print(json.dumps({'status': answer['statusCode'], 'body': json.loads(answer['body']),\n"
        "                  'ops': sorted(m for m in sys.modules if m.startswith('bdpilot.ops'))}))\n"
    )
    path = os.pathsep.join([str(root), sysconfig.get_paths()["purelib"]])
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": path,
           "BDPILOT_SECRET": "zip-test-secret-0123456789", "BDPILOT_TABLE": "t", "BDPILOT_BUCKET": "b",
           "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
           "POWERTOOLS_METRICS_NAMESPACE": "bdpilot", "POWERTOOLS_SERVICE_NAME": "bdpilot"}
    result = subprocess.run([sys.executable, "-S", "-c", probe, str(root)], input=json.dumps(
        rest_event("GET", "/api/campaign")), capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["status"] == 200 and answer["body"]["form_token"]
    assert answer["ops"] == []


@pytest.mark.slow
@pytest.mark.parametrize("beside, roots", [
    (package.receipt_zip, package.receipt_roots()),
    (package.mailqueue_zip, (package.MAILQUEUE_HANDLER_MODULE,)),
], ids=["receipt", "mailqueue"])
def test_receipt_and_mail_queue_zips_hold_their_handlers_closure_and_its_dependencies(
        archive: Path, beside: Any, roots: tuple[str, ...]) -> None:
    """Each its own zip, built like the public one: the handler's import closure (for the receipt function also
    the views it imports by name), its package data, the locked dependencies; no operator or console code."""
    with zipfile.ZipFile(beside(archive)) as bundle:
        names = set(bundle.namelist())
    modules = closure.module_closure(deploy.PACKAGE_DIR, roots)
    shipped = {n for n in names if n.startswith("bdpilot/") and n.endswith(".py")}
    expected = {"bdpilot/" + closure.module_path(deploy.PACKAGE_DIR, m).relative_to(  # type: ignore[union-attr]
        deploy.PACKAGE_DIR).as_posix() for m in modules}
    assert shipped == expected
    assert "bdpilot/domain/wording/mail.toml" in names  # the catalogue the e-mails are worded from
    assert not [n for n in names if n.startswith(("bdpilot/ops/", "bdpilot/console/"))]
    assert any(n.startswith("aws_lambda_powertools/") for n in names)  # the function lock's dependencies
    assert not any(n.startswith(("boto3/", "botocore/")) for n in names)  # the runtime's own
