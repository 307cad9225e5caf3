"""`bdpilot deploy` up to the point where it needs AWS: packaging, the credentials check, the site sync.
(The stack steps run end to end against moto in test_deploy_moto.py; the checks alone in test_deploy_checks.py.)"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from bdpilot.ops import deploy

MAX_ZIP_BYTES = 10 * 1024 * 1024


@pytest.mark.slow
def test_package_holds_the_handler_and_its_dependencies_but_not_boto3(tmp_path: Path,
                                                                      template: dict[str, Any]) -> None:
    archive = deploy.build_package(tmp_path / "a", template, bytecode=False)  # bytecode: test_deploy_bytecode.py
    assert archive.is_file()
    assert archive.stat().st_size <= MAX_ZIP_BYTES
    names = set(zipfile.ZipFile(archive).namelist())
    assert {"bdpilot/__init__.py", "bdpilot/web/api.py", "bdpilot/store/__init__.py"} <= names
    top = {name.split("/")[0] for name in names}
    assert {"aws_lambda_powertools", "pydantic", "pydantic_core"} <= top
    assert not {"boto3", "botocore", "s3transfer", "bin"} & top
    assert not any("__pycache__" in name or name.endswith(".pyc") for name in names)
    # Built for the template's Lambda runtime and architecture (arm64: aarch64 wheels), not for this machine.
    function = template["Resources"]["Function"]["Properties"]
    machine = {"arm64": "aarch64", "x86_64": "x86_64"}[function.get("Architectures", ["x86_64"])[0]]
    version = function["Runtime"].removeprefix("python").replace(".", "")
    suffix = f"cpython-{version}-{machine}-linux-gnu.so"
    assert any(n.startswith("pydantic_core/") and n.endswith(suffix) for n in names), suffix
    assert not any(n.endswith(".so") and "linux-gnu" in n and not n.endswith(suffix) for n in names)
    # Deterministic: the same inputs give the same bytes, so an unchanged function is not redeployed.
    assert deploy.build_package(tmp_path / "b", template, bytecode=False).read_bytes() == archive.read_bytes()


def test_runtime_requirements_leave_out_what_lambda_provides() -> None:
    requirements = deploy.runtime_requirements()
    assert requirements and not any(r.lower().startswith(deploy.PROVIDED_BY_RUNTIME) for r in requirements)


def test_deploy_without_credentials_fails_clearly(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setattr(deploy, "build_package", lambda out: pytest.fail("packaged before checking credentials"))

    assert deploy.main(["--stage", "test", "--region", "us-east-1"]) != 0
    err = capsys.readouterr().err
    assert "AWS 凭证" in err and "No usable AWS credentials" in err
    assert "Traceback" not in err


def test_site_sync_sets_types_skips_unchanged_and_removes_stale(fake_credentials: None, tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "apply").mkdir(parents=True)
    (site / "assets" / "stylesheets").mkdir(parents=True)
    (site / "index.html").write_text("<!doctype html><title>首页</title>", encoding="utf-8")
    (site / "apply" / "index.html").write_text("<!doctype html><title>在线申报</title>", encoding="utf-8")
    (site / "assets" / "stylesheets" / "main.1a2b3c.min.css").write_text("body{}", encoding="utf-8")
    (site / "sitemap.xml").write_text("<urlset/>", encoding="utf-8")
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="site")
        s3.put_object(Bucket="site", Key="old-page/index.html", Body=b"stale")

        assert deploy.sync_site(s3, "site", site) == (4, 1)
        page = s3.head_object(Bucket="site", Key="apply/index.html")
        assert page["ContentType"] == "text/html; charset=utf-8"
        assert "max-age=300" in page["CacheControl"]
        css = s3.head_object(Bucket="site", Key="assets/stylesheets/main.1a2b3c.min.css")
        assert css["ContentType"] == "text/css; charset=utf-8" and "immutable" in css["CacheControl"]
        assert s3.head_object(Bucket="site", Key="sitemap.xml")["ContentType"].startswith("application/xml")

        (site / "index.html").write_text("<!doctype html><title>首页（更新）</title>", encoding="utf-8")
        assert deploy.sync_site(s3, "site", site) == (1, 0)


def test_site_sync_for_china_stores_each_directory_page_under_its_directory_key(fake_credentials: None,
                                                                                  tmp_path: Path) -> None:
    """China has no CloudFront Function to turn /a/b/ into a/b/index.html: the origin must hold the key a/b/."""
    site = tmp_path / "site"
    (site / "guide" / "faq").mkdir(parents=True)
    (site / "index.html").write_text("<!doctype html><title>首页</title>", encoding="utf-8")
    (site / "guide" / "index.html").write_text("<!doctype html><title>指南</title>", encoding="utf-8")
    (site / "guide" / "faq" / "index.html").write_text("<!doctype html><title>问答</title>", encoding="utf-8")
    (site / "guide" / "form.pdf").write_bytes(b"%PDF-1.4")
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="site")

        # Elsewhere the CloudFront Function does it: no directory keys.
        assert deploy.sync_site(s3, "site", site) == (4, 0)
        assert "guide/" not in {o["Key"] for o in s3.list_objects_v2(Bucket="site")["Contents"]}

        assert deploy.sync_site(s3, "site", site, directory_keys=True) == (2, 0)
        keys = {o["Key"] for o in s3.list_objects_v2(Bucket="site")["Contents"]}
        # Not "" for the root (not a valid key; DefaultRootObject serves /), not "guide" without the slash.
        assert keys == {"index.html", "guide/index.html", "guide/", "guide/faq/index.html", "guide/faq/",
                        "guide/form.pdf"}
        for directory in ("guide/", "guide/faq/"):
            stored = s3.get_object(Bucket="site", Key=directory)
            assert stored["ContentType"] == "text/html; charset=utf-8" and "max-age=300" in stored["CacheControl"]
            assert stored["Body"].read() == (site / directory / "index.html").read_bytes()
        assert deploy.sync_site(s3, "site", site, directory_keys=True) == (0, 0)

        # A page that goes away takes its directory key with it; a changed one updates both keys.
        (site / "guide" / "faq" / "index.html").unlink()
        changed = "<!doctype html><title>指南（新）</title>"
        (site / "guide" / "index.html").write_text(changed, encoding="utf-8")
        assert deploy.sync_site(s3, "site", site, directory_keys=True) == (2, 2)
        assert s3.get_object(Bucket="site", Key="guide/")["Body"].read() == changed.encode()
