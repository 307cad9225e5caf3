"""What S3 checks on a browser's form POST and moto does not: the signature version, the endpoint, the SigV4
signature of the policy, its expiry, and every condition of the policy against the form actually posted.

Written from the S3 documentation ("Creating a POST policy", "Calculating a signature" for browser-based uploads):
- SigV2 fields (AWSAccessKeyId, signature) are refused for SSE-KMS objects and by buckets created after June 2020.
- The form goes to the bucket's own regional endpoint; the global endpoint redirects, which a form cannot follow.
- Every form field except `policy`, `x-amz-signature`, `file` and `x-ignore-*` must be named by a condition.
- Conditions: {"field": value} and ["eq", "$field", value] are exact matches, ["starts-with", "$field", prefix]
  a prefix match, ["content-length-range", min, max] bounds the file's size; `bucket` is checked too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime
from urllib.parse import urlsplit

SIGV4 = "AWS4-HMAC-SHA256"
NOT_CONDITIONED = {"policy", "x-amz-signature", "file"}


def expected_url(bucket: str, region: str) -> str:
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"https://{bucket}.s3.{region}.{suffix}/"


def _signing_key(secret_key: str, day: str, region: str) -> bytes:
    key = ("AWS4" + secret_key).encode()
    for part in (day, region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def _bucket_of(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ".s3." in host:
        return host.split(".s3.")[0]
    return parts.path.strip("/").split("/")[0]  # a local stand-in addressed by path


def problems(url: str, fields: dict[str, str], *, file_size: int, secret_key: str, now: datetime,
             region: str | None = None) -> list[str]:
    """Why S3 would refuse this POST (empty when it would accept it). `fields` is the form as posted, without
    the file; `region`, when given, is where the bucket lives."""
    found: list[str] = []
    if "AWSAccessKeyId" in fields or "signature" in fields:
        found.append("SigV2 fields in the form")
    if fields.get("x-amz-algorithm") != SIGV4:
        found.append(f"x-amz-algorithm is {fields.get('x-amz-algorithm')!r}, not {SIGV4}")
        return found
    try:
        _, day, cred_region, service, terminal = fields["x-amz-credential"].split("/")
        policy = json.loads(base64.b64decode(fields["policy"]))
    except (KeyError, ValueError) as exc:
        return [*found, f"credential or policy unreadable: {exc!r}"]
    if (service, terminal) != ("s3", "aws4_request"):
        found.append("credential scope is not s3/aws4_request")
    if region is not None:
        if cred_region != region:
            found.append(f"signed for {cred_region}, bucket in {region}")
        if url != expected_url(_bucket_of(url), region):
            found.append(f"posts to {url}, not the bucket's regional virtual-hosted endpoint")
    signature = hmac.new(_signing_key(secret_key, day, cred_region), fields["policy"].encode(),
                         hashlib.sha256).hexdigest()
    if not hmac.compare_digest(signature, fields.get("x-amz-signature", "")):
        found.append("signature does not match the policy")
    if fields.get("x-amz-date", "")[:8] != day:
        found.append("x-amz-date and credential date differ")
    if datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00")) <= now:
        found.append("policy expired")

    form = {k.lower(): v for k, v in fields.items()} | {"bucket": _bucket_of(url)}
    named: set[str] = set()
    for condition in policy["conditions"]:
        if isinstance(condition, dict):
            ((name, value),) = condition.items()
            op, name = "eq", name.lower()
        elif condition[0] == "content-length-range":
            low, high = int(condition[1]), int(condition[2])
            if not low <= file_size <= high:
                found.append(f"file of {file_size} bytes outside content-length-range [{low}, {high}]")
            continue
        else:
            op, name, value = condition[0], condition[1].lstrip("$").lower(), condition[2]
        named.add(name)
        actual = form.get(name)
        if actual is None:
            found.append(f"condition on {name} but the form has no such field")
        elif op == "eq" and actual != value:
            found.append(f"{name} is {actual!r}, policy requires {value!r}")
        elif op == "starts-with" and not actual.startswith(value):
            found.append(f"{name} is {actual!r}, policy requires the prefix {value!r}")
    for name in fields:
        low = name.lower()
        if low not in named and low not in NOT_CONDITIONED and not low.startswith("x-ignore-"):
            found.append(f"form field {name} is not named by any policy condition")
    return found
