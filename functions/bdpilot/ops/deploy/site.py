"""Publishing the built site: the bucket made to hold exactly site/, with types and cache lifetimes per key."""

from __future__ import annotations

import hashlib
import mimetypes
import subprocess
import sys
from pathlib import Path
from typing import Any

from bdpilot.ops.deploy.checks import DeployError
from bdpilot.ops.deploy.package import ROOT, files

CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
                 ".js": "text/javascript; charset=utf-8", ".json": "application/json; charset=utf-8",
                 ".xml": "application/xml; charset=utf-8", ".txt": "text/plain; charset=utf-8",
                 ".svg": "image/svg+xml", ".webmanifest": "application/manifest+json",
                 ".woff2": "font/woff2", ".map": "application/json", ".gz": "application/gzip"}


def content_type(path: Path) -> str:
    return CONTENT_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def cache_control(key: str) -> str:
    # Pages and the search index change with every build; Material's bundled assets carry a hash in their name.
    if key.startswith("assets/") and any(part in key for part in ("/stylesheets/", "/javascripts/")):
        return "public, max-age=31536000, immutable"
    return "public, max-age=300, must-revalidate"


INDEX = "index.html"


def site_objects(site: Path, *, directory_keys: bool = False) -> dict[str, Path]:
    """The bucket's keys and the files they hold. With directory_keys (China: no CloudFront Function to append
    index.html to directory URLs), each <dir>/index.html is also stored under <dir>/, the key CloudFront asks the
    origin for on /<dir>/. The root needs none: the distribution's DefaultRootObject serves /."""
    objects: dict[str, Path] = {}
    for path in files(site):
        key = path.relative_to(site).as_posix()
        objects[key] = path
        if directory_keys and path.name == INDEX and key != INDEX:
            objects[key.removesuffix(INDEX)] = path
    return objects


def sync_site(s3: Any, bucket: str, site: Path, *, directory_keys: bool = False) -> tuple[int, int]:
    """Make the bucket hold exactly site/ (plus the directory keys, see site_objects; unchanged objects are
    skipped by MD5); return (uploaded, deleted)."""
    remote: dict[str, str] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        remote |= {o["Key"]: o["ETag"].strip('"') for o in page.get("Contents", [])}
    uploaded = 0
    for key, path in site_objects(site, directory_keys=directory_keys).items():
        data = path.read_bytes()
        if remote.pop(key, None) == hashlib.md5(data, usedforsecurity=False).hexdigest():
            continue
        s3.put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type(path),
                      CacheControl=cache_control(key))
        uploaded += 1
    for start in range(0, len(remote), 1000):
        batch = sorted(remote)[start:start + 1000]
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True})
    return uploaded, len(remote)


def build_site(out_dir: Path) -> Path:
    site = out_dir / "site"
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", str(site)],
                            cwd=ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        raise DeployError(f"mkdocs build failed:\n{result.stdout}{result.stderr}")
    return site
