"""The lock files: exact versions with the hash of every file PyPI holds for them, so what `make`, CI and the
function zip install is what was tested, on any platform (the zip's arm64 wheels and a developer's x86_64 ones
are both covered). `make lock` refreshes them (`python -m bdpilot.ops.deploy.lock`); nothing else resolves.

- requirements/function.txt: what the public function's zip holds, the runtime dependencies less what the
  Lambda runtime provides (boto3, botocore, s3transfer);
- requirements/staff.txt: the staff console function's zip, the same plus the `staff` extra, at the same pins;
- requirements/dev.txt: every extra (site, local run, admin, tests, lint and type tools), constrained to the
  function's pins so the versions tested locally are the ones shipped.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from bdpilot.ops.deploy.package import ROOT, runtime_requirements

REQUIREMENTS = ROOT / "requirements"
FUNCTION_LOCK = REQUIREMENTS / "function.txt"
STAFF_LOCK = REQUIREMENTS / "staff.txt"
DEV_LOCK = REQUIREMENTS / "dev.txt"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")


def normalize(name: str) -> str:
    """PEP 503: `Pydantic_Core` and `pydantic-core` are one project."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lock: Path) -> dict[str, str]:
    """name -> version for every requirement in a lock file (its continuation lines hold the hashes)."""
    found: dict[str, str] = {}
    for line in lock.read_text(encoding="utf-8").splitlines():
        match = PIN.match(line)
        if match:
            found[normalize(match[1])] = match[2]
    return found


def staff_requirements(pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    """The `staff` extra: what the console's function needs beyond the public function's dependencies."""
    import tomllib

    extras: dict[str, list[str]] = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"][
        "optional-dependencies"]
    return list(extras.get("staff", []))


def compile_locks() -> None:
    """Resolve both locks with uv (installed from the dev lock); universal, so one file serves every platform."""
    REQUIREMENTS.mkdir(exist_ok=True)
    uv = [str(Path(sys.executable).with_name("uv")), "pip", "compile", "--quiet", "--universal",
          "--generate-hashes", "--no-header", "--upgrade"]
    subprocess.run([*uv, "-", "-o", str(FUNCTION_LOCK)], input="\n".join(runtime_requirements()) + "\n",
                   text=True, check=True, cwd=ROOT)
    # The staff function's zip: the same runtime pins plus the console's (the `staff` extra).
    staff = [*runtime_requirements(), *staff_requirements()]
    subprocess.run([*uv, "-", "-c", str(FUNCTION_LOCK.relative_to(ROOT)), "-o", str(STAFF_LOCK)],
                   input="\n".join(staff) + "\n", text=True, check=True, cwd=ROOT)
    subprocess.run([*uv, "pyproject.toml", "--all-extras", "-c", str(FUNCTION_LOCK.relative_to(ROOT)),
                    "-o", str(DEV_LOCK.relative_to(ROOT))], check=True, cwd=ROOT)


if __name__ == "__main__":
    compile_locks()
