"""What `bdpilot deploy` ships: the function zip, built for the runtime and architecture the template declares,
and the artifacts bucket that holds it for as long as the stack refers to it."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from bdpilot.ops.deploy import closure
from bdpilot.ops.deploy.checks import DeployError

PACKAGE_DIR = Path(__file__).resolve().parents[2]  # functions/bdpilot
ROOT = PACKAGE_DIR.parents[1]
FUNCTION_LOCK = ROOT / "requirements" / "function.txt"  # written by `make lock` (bdpilot.ops.deploy.lock)
ZIP_NAME = "bdpilot-function.zip"
# The Lambda Python runtime ships these; bundling them only adds ~20 MB.
PROVIDED_BY_RUNTIME = ("boto3", "botocore", "s3transfer")
# Lambda's architectures and the wheel platform that runs on each (Amazon Linux, glibc >= 2.17).
WHEEL_PLATFORMS = {"x86_64": "manylinux2014_x86_64", "arm64": "manylinux2014_aarch64"}
# Also accepted: the python3.12+ runtimes run on Amazon Linux 2023 (glibc 2.34), and some wheels (argon2-cffi-bindings
# for the staff zip) are published for glibc >= 2.28 only.
NEWER_WHEEL_PLATFORMS = {"x86_64": "manylinux_2_28_x86_64", "arm64": "manylinux_2_28_aarch64"}
FUNCTION_LOGICAL_ID = "Function"
# The staff console's function: its own zip, from the closure of its own handler, with its own lock (the public
# zip holds no console code and no password hashing; the staff zip no intake code it never imports).
STAFF_ZIP_NAME = "bdpilot-staff.zip"
STAFF_FUNCTION_LOGICAL_ID = "StaffFunction"
STAFF_LOCK = ROOT / "requirements" / "staff.txt"
STAFF_HANDLER_MODULE = "bdpilot.console.app"
# The applicants' receipt function and the mail queue: a zip each, the closure of their own handler, with the public
# function's lock (they run intake and mail code, no console code and no password hashing).
RECEIPT_ZIP_NAME = "bdpilot-receipt.zip"
RECEIPT_FUNCTION_LOGICAL_ID = "ReceiptFunction"
RECEIPT_HANDLER_MODULE = "bdpilot.web.receipt"
MAILQUEUE_ZIP_NAME = "bdpilot-mailqueue.zip"
MAILQUEUE_FUNCTION_LOGICAL_ID = "MailQueueFunction"
MAILQUEUE_HANDLER_MODULE = "bdpilot.web.mailqueue"
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed timestamps: the same inputs give the same zip, byte for byte
# The interpreter that compiles the zips' bytecode, when not found by itself (runtime_python).
RUNTIME_PYTHON_ENV = "BDPILOT_RUNTIME_PYTHON"
TASK_ROOT = "/var/task"  # where Lambda unpacks the zip: the paths the compiled code's tracebacks show

# Artifacts are tagged so the bucket's lifecycle can expire what no stack uses any more, and only that:
# S3 lifecycle filters can select by tag but not exclude by one, so the live zip carries no expiring tag.
ARTIFACT_TAG = "bdpilot-artifact"
LIVE, SUPERSEDED = "live", "superseded"
SUPERSEDED_DAYS = 30  # a superseded zip stays this long, for a manual rollback to the previous build
ARTIFACT_LIFECYCLE: dict[str, Any] = {"Rules": [
    {"ID": "expire-superseded-artifacts", "Status": "Enabled",
     "Filter": {"Tag": {"Key": ARTIFACT_TAG, "Value": SUPERSEDED}}, "Expiration": {"Days": SUPERSEDED_DAYS}},
    {"ID": "abort-incomplete-multipart", "Status": "Enabled", "Filter": {"Prefix": ""},
     "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}},
]}


class PackageError(DeployError):
    """Packaging failed; the message is for the person deploying."""


# ---------------------------------------------------------------- the function zip


def runtime_requirements(pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    """The project's runtime dependencies, minus what the Lambda runtime already provides."""
    declared = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]

    def name(requirement: str) -> str:
        return requirement.split("[")[0].split(">")[0].split("<")[0].split("=")[0].split(";")[0].strip().lower()

    return [r for r in declared if name(r) not in PROVIDED_BY_RUNTIME]


def lambda_platform(template: Mapping[str, Any], logical_id: str = FUNCTION_LOGICAL_ID) -> list[str]:
    """pip's target options for the function the template declares (its Runtime and Architectures), so the
    wheels in the zip are the ones the runtime can load: a zip built for x86_64 fails on arm64 at import time."""
    props = template["Resources"][logical_id]["Properties"]
    runtime = props["Runtime"]
    if not isinstance(runtime, str) or not runtime.startswith("python3."):
        raise PackageError(f"the function's Runtime must be a python3.x literal, not {runtime!r}")
    architectures = props.get("Architectures", ["x86_64"])  # Lambda's default
    if not isinstance(architectures, list) or len(architectures) != 1 or architectures[0] not in WHEEL_PLATFORMS:
        raise PackageError(f"the function's Architectures must be one of {sorted(WHEEL_PLATFORMS)}, "
                           f"not {architectures!r}")
    version = runtime.removeprefix("python")
    newer = ["--platform", NEWER_WHEEL_PLATFORMS[architectures[0]]] if int(version.split(".")[1]) >= 12 else []
    return ["--platform", WHEEL_PLATFORMS[architectures[0]], *newer, "--implementation", "cp",
            "--python-version", runtime.removeprefix("python"), "--only-binary=:all:"]


def files(root: Path, cache_tag: str | None = None) -> Iterator[Path]:
    """What goes in the zip, in a fixed order: no bytecode, except each module's pyc of `cache_tag` (a pyc of
    another tag, or without its source, is nothing the runtime would load)."""
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        if path.suffix == ".pyc" or "__pycache__" in path.relative_to(root).parts:
            suffix = f".{cache_tag}.pyc"
            if not (cache_tag and path.parent.name == "__pycache__" and path.name.endswith(suffix)
                    and (path.parent.parent / (path.name.removesuffix(suffix) + ".py")).is_file()):
                continue
        yield path


# ---------------------------------------------------------------- bytecode compiled by the runtime's Python


class RuntimePython(NamedTuple):
    """An interpreter, with what running it reported."""
    path: str
    version: tuple[int, int]
    cache_tag: str  # e.g. cpython-312: the pycs' names, which only that minor version loads


def runtime_version(template: Mapping[str, Any]) -> tuple[int, int]:
    """The python3.x that every function of the template declares: one interpreter compiles every zip."""
    runtimes = {resource.get("Properties", {}).get("Runtime") for resource in template["Resources"].values()
                if resource.get("Type") == "AWS::Lambda::Function"}
    runtime = next(iter(runtimes)) if len(runtimes) == 1 else None
    found = re.fullmatch(r"python3\.([0-9]+)", runtime) if isinstance(runtime, str) else None
    if found is None:
        raise PackageError(f"the functions must all declare one python3.x Runtime, not {sorted(map(str, runtimes))}")
    return 3, int(found[1])


def probe(path: str) -> RuntimePython | None:
    """Run `path` and ask it its version and cache tag; None when it does not run (e.g. a pyenv shim of a version
    that is not selected)."""
    script = "import sys; print(*sys.version_info[:2], sys.implementation.cache_tag)"
    try:
        result = subprocess.run([path, "-c", script], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    fields = result.stdout.split()
    if result.returncode != 0 or len(fields) != 3 or not all(f.isdigit() for f in fields[:2]):
        return None
    return RuntimePython(path, (int(fields[0]), int(fields[1])), fields[2])


def pyenv_pythons(version: tuple[int, int], environ: Mapping[str, str], home: Path) -> list[str]:
    """pyenv's interpreters of `version` (its newest patch release first), found without pyenv's shims."""
    root = Path(environ.get("PYENV_ROOT") or home / ".pyenv")
    major, minor = version
    found = root.glob(f"versions/{major}.{minor}.*/bin/python{major}.{minor}")

    def release(path: Path) -> tuple[int, ...]:
        return tuple(int(part) for part in re.findall(r"[0-9]+", path.parents[1].name))

    return [str(path) for path in sorted(found, key=release, reverse=True)]


def runtime_python(template: Mapping[str, Any], *, environ: Mapping[str, str] = os.environ,
                   executable: str = sys.executable, home: Path | None = None) -> RuntimePython:
    """The interpreter of the functions' python3.x, verified by running it: $BDPILOT_RUNTIME_PYTHON if set (and then
    only that one), else this one if its version fits, else python3.x on PATH (each, as a pyenv shim may not run),
    else pyenv's."""
    version = runtime_version(template)
    wanted, tag = f"python{version[0]}.{version[1]}", f"cpython-{version[0]}{version[1]}"
    fix = (f"install {wanted} (e.g. `pyenv install {version[0]}.{version[1]}`), set {RUNTIME_PYTHON_ENV} to its "
           "path, or deploy with --no-bytecode (sources only: slower cold starts)")

    def fits(found: RuntimePython) -> bool:
        return found.version == version and found.cache_tag == tag

    named = environ.get(RUNTIME_PYTHON_ENV)
    if named:
        found = probe(named)
        if found is None or not fits(found):
            what = "does not run" if found is None else f"is Python {found.version[0]}.{found.version[1]}"
            raise PackageError(f"{RUNTIME_PYTHON_ENV}={named} {what}, but the functions run {wanted} and their "
                               f"bytecode must be compiled by it: {fix}")
        return found
    on_path = [shutil.which(wanted, path=folder) for folder in environ.get("PATH", "").split(os.pathsep) if folder]
    candidates = [executable, *on_path, *pyenv_pythons(version, environ, home or Path.home())]
    for candidate in dict.fromkeys(c for c in candidates if c):
        if (found := probe(candidate)) is not None and fits(found):
            return found
    raise PackageError(f"no {wanted} to compile the functions' bytecode with (the Lambda runtime loads only "
                       f"{tag} pycs): {fix}")


def compile_bytecode(build: Path, python: RuntimePython) -> None:
    """Compile every module in `build` as the runtime would, so a cold start does not (/var/task is read-only: the
    runtime caches nothing). Unchecked-hash pycs are loaded without looking at the source and hold no timestamp;
    their code names the /var/task paths, not the build folder's, so the zip stays reproducible and the import
    system has no file names to fix up. Level 0 only, as Lambda runs without -O."""
    for cache in list(build.rglob("__pycache__")):  # wheels' own bytecode, of whatever tag: never shipped
        shutil.rmtree(cache, ignore_errors=True)
    for stray in build.rglob("*.pyc"):
        stray.unlink()
    root = str(build.resolve())
    # No PYTHON* settings of this shell, and a fixed hash seed: set constants are written in iteration order.
    # `-s` before -m: no user site; after: the prefix stripped from the paths the code objects hold.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")} | {"PYTHONHASHSEED": "0"}
    result = subprocess.run([python.path, "-s", "-m", "compileall", "-q", "-o", "0", "--invalidation-mode",
                             "unchecked-hash", "-s", root, "-p", TASK_ROOT, root],
                            capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise PackageError(f"{python.path} could not compile the function's modules:\n"
                           f"{(result.stdout + result.stderr).strip()[-3000:]}")


def receipt_roots() -> tuple[str, ...]:
    """The receipt handler and the view modules it imports by name when the first request arrives (importlib:
    invisible to the AST, so named here from the handler's own list)."""
    from bdpilot.web import receipt

    return (RECEIPT_HANDLER_MODULE, *receipt.VIEW_MODULES)


def build_package(out_dir: Path, template: Mapping[str, Any] | None = None, *, bytecode: bool = True,
                  python: RuntimePython | None = None) -> Path:
    """Build the public function's zip and, beside it, the staff, receipt and mail queue functions' (STAFF_ZIP_NAME,
    RECEIPT_ZIP_NAME, MAILQUEUE_ZIP_NAME); return the public one's path (`staff_zip(path)` etc. are the others).
    With `bytecode`, each zip also holds its modules compiled by `python` (default: runtime_python's); without,
    sources only."""
    if template is None:
        from bdpilot.ops import stack

        template = stack.load_template()
    python = (python or runtime_python(template)) if bytecode else None  # refused before pip runs
    archive = build_zip(out_dir, template, FUNCTION_LOGICAL_ID, closure.HANDLER_MODULE, FUNCTION_LOCK, ZIP_NAME,
                        python=python)
    build_zip(out_dir, template, STAFF_FUNCTION_LOGICAL_ID, STAFF_HANDLER_MODULE, STAFF_LOCK, STAFF_ZIP_NAME,
              python=python)
    build_zip(out_dir, template, RECEIPT_FUNCTION_LOGICAL_ID, receipt_roots(), FUNCTION_LOCK, RECEIPT_ZIP_NAME,
              python=python)
    build_zip(out_dir, template, MAILQUEUE_FUNCTION_LOGICAL_ID, MAILQUEUE_HANDLER_MODULE, FUNCTION_LOCK,
              MAILQUEUE_ZIP_NAME, python=python)
    return archive


def staff_zip(archive: Path) -> Path:
    """The staff function's zip that build_package wrote beside the public one."""
    return archive.with_name(STAFF_ZIP_NAME)


def receipt_zip(archive: Path) -> Path:
    return archive.with_name(RECEIPT_ZIP_NAME)


def mailqueue_zip(archive: Path) -> Path:
    return archive.with_name(MAILQUEUE_ZIP_NAME)


def build_zip(out_dir: Path, template: Mapping[str, Any], logical_id: str, handler_module: str | Sequence[str],
              lock: Path, name: str, *, python: RuntimePython | None) -> Path:
    """pip-install the locked dependencies (each file checked against its hash) for the Lambda runtime and
    architecture the template gives `logical_id`, next to the bdpilot modules `handler_module` imports, compile them
    with `python` (None: sources only) and zip them deterministically; return the zip's path. Needs PyPI (or a pip
    index), not AWS."""
    if not lock.is_file():
        raise PackageError(f"no lock file {lock} (run `make lock`)")
    out_dir.mkdir(parents=True, exist_ok=True)
    build = out_dir / name.removesuffix(".zip")
    shutil.rmtree(build, ignore_errors=True)
    build.mkdir()
    result = subprocess.run(pip_command(build, template, logical_id, lock), capture_output=True, text=True)
    if result.returncode != 0:
        raise PackageError(f"pip could not install the function's dependencies:\n{result.stderr.strip()}")
    for provided in PROVIDED_BY_RUNTIME:  # in case a dependency pulled them in
        shutil.rmtree(build / provided, ignore_errors=True)
        for info in build.glob(f"{provided}-*.dist-info"):
            shutil.rmtree(info)
    shutil.rmtree(build / "bin", ignore_errors=True)  # console scripts: unused, and they embed local paths
    for source in closure.function_files(PACKAGE_DIR, ROOT / "pyproject.toml", handler_module):
        target = build / "bdpilot" / source.relative_to(PACKAGE_DIR)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)

    if python is not None:
        compile_bytecode(build, python)

    archive = out_dir / name
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as bundle:
        for path in files(build, python.cache_tag if python else None):
            entry = zipfile.ZipInfo(path.relative_to(build).as_posix(), date_time=ZIP_EPOCH)
            entry.external_attr = 0o644 << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            bundle.writestr(entry, path.read_bytes())
    return archive


def pip_command(build: Path, template: Mapping[str, Any], logical_id: str = FUNCTION_LOGICAL_ID,
                lock: Path = FUNCTION_LOCK) -> list[str]:
    """The locked versions only (--require-hashes refuses anything unpinned or altered), as wheels for the
    function's platform: what ships is what the tests ran against."""
    return [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
            "--require-hashes", "--target", str(build), *lambda_platform(template, logical_id), "-r", str(lock)]


# ---------------------------------------------------------------- the artifacts bucket


def ensure_artifacts_bucket(s3: Any, name: str, region: str) -> None:
    """The bucket for function zips and templates: outside the stack, which needs the zip before it exists.
    The lifecycle is (re)applied on every deploy, replacing the rule of earlier versions that expired every
    object after 90 days, the zip in use included (CloudFormation reads it again to replace or roll back the
    function)."""
    from botocore.exceptions import ClientError

    try:
        s3.head_bucket(Bucket=name)
    except ClientError as error:
        if error.response["Error"]["Code"] not in ("404", "NoSuchBucket"):
            raise
        config = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        s3.create_bucket(Bucket=name, **config)
        s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=dict.fromkeys(
            ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), True))
    s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration=ARTIFACT_LIFECYCLE)


def upload_artifact(s3: Any, bucket: str, path: Path, prefix: str, *, state: str | None = None) -> str:
    """Upload under a content-addressed key, so a changed zip is a changed CodeKey (and updates the function).
    An unchanged zip keeps its key and its tag (re-uploading would not change the bytes)."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:32]
    key = f"{prefix}/{digest}{path.suffix}"
    extra = {"Tagging": f"{ARTIFACT_TAG}={state}"} if state else {}
    s3.upload_file(str(path), bucket, key, ExtraArgs=extra)
    return key


def tag_artifact(s3: Any, bucket: str, key: str, state: str) -> None:
    s3.put_object_tagging(Bucket=bucket, Key=key, Tagging={"TagSet": [{"Key": ARTIFACT_TAG, "Value": state}]})


def settle_artifacts(s3: Any, bucket: str, *, live: str | None, previous: str | None, new: str) -> None:
    """After a deploy: tag the zip the stack now refers to `live` and every other one touched `superseded`
    (the previous build after a successful update, or the new build when the update was refused or failed)."""
    if live is not None:
        tag_artifact(s3, bucket, live, LIVE)
    for key in {previous, new} - {live, None}:
        try:
            tag_artifact(s3, bucket, key, SUPERSEDED)  # type: ignore[arg-type]
        except s3.exceptions.ClientError as error:  # a previous zip already gone: nothing left to expire
            if error.response["Error"]["Code"] not in ("NoSuchKey", "404"):
                raise
