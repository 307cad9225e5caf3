"""What the submission path guarantees against a hostile or unlucky client, each proven where moto cannot race by
putting the competing write between our checks and our writes (deterministic interleaving)."""

from __future__ import annotations

import hashlib
import json

from bdpilot import store
from bdpilot.domain import reference
from tests.conftest import Applicant, call
from tests.factories import PDF, VALID_USCC, attachments, idempotency_key


def _subs(aws) -> list[str]:
    return sorted(i["pk"]["S"] for i in aws.items() if i["pk"]["S"].startswith("SUB#"))


def test_a_form_token_admits_one_stored_submission(aws, applicant):
    """Finding 4: one token and one pair of uploads stored three applications with three USCCs."""
    body, key = applicant.body(), idempotency_key()
    first = applicant.submit(body, key=key)
    assert first.status == 201
    for uscc in VALID_USCC[1:]:
        again = applicant.body(applicant={"uscc": uscc, "name": f"另一家公司{uscc[-4:]}"},
                               attachments=body["application"]["attachments"])
        reply = applicant.submit(again)
        assert reply.status == 409 and reply.body["error"]["code"] == "form_token_used", reply.body
        assert "刷新页面" in reply.body["error"]["message"]
    assert _subs(aws) == [f"SUB#{first.body['reference']}"]
    # An idempotent replay of the stored post still answers its 201.
    assert applicant.submit(body, key=key).body == first.body
    # The used token cannot fetch new upload slots either.
    reply = call("POST", "/api/uploads", {"form_token": applicant.token, "filename": "a.pdf", "size": 10})
    assert reply.status == 409 and reply.body["error"]["code"] == "form_token_used"


def test_a_token_used_between_check_and_commit_is_refused_by_the_transaction(aws, applicant, now, monkeypatch):
    body = applicant.body()
    competitor = applicant.body(applicant={"uscc": VALID_USCC[1]}, attachments=body["application"]["attachments"])
    monkeypatch.setattr(store.Store, "form_used", lambda self, pk: False)  # the pre-check saw it unused
    assert applicant.submit(competitor).status == 201
    reply = applicant.submit(body)
    assert reply.status == 409 and reply.body["error"]["code"] == "form_token_used"
    assert len(_subs(aws)) == 1


def test_a_fresh_form_needs_its_own_fill_time(aws, applicant, now):
    assert applicant.submit().status == 201
    second = Applicant(aws, now)
    body = second.body(applicant={"uscc": VALID_USCC[1]})
    reply = second.submit(body, wait=False)
    assert reply.status == 429 and reply.body["error"]["code"] == "too_fast"


def test_whether_a_uscc_applied_is_not_told_before_the_whole_post_is_valid(aws, applicant, now):
    """Finding 5: with fake upload ids, a USCC that had applied answered 409 and a fresh one 422."""
    assert applicant.submit().status == 201
    probe = Applicant(aws, now)
    fake = attachments("a" * 32, "b" * 32)
    taken = probe.submit(probe.body(attachments=fake))
    fresh = probe.submit(probe.body(applicant={"uscc": VALID_USCC[1]}, attachments=fake))
    assert taken.status == fresh.status == 422
    assert taken.body == fresh.body


def test_a_reference_collision_never_overwrites_another_submission(aws, applicant, now, monkeypatch):
    """Finding 6: two keys with one reference; the second post used to replace the first applicant's record."""
    real = reference.reference_for
    clash = real(b"clash", "k" * 16)

    def colliding(secret: bytes, key: str, attempt: int = 0) -> str:
        return clash if attempt == 0 else real(secret, key, attempt)

    monkeypatch.setattr(reference, "reference_for", colliding)
    first = applicant.submit()
    assert first.status == 201 and first.body["reference"] == clash
    before = {k: aws.s3.get_object(Bucket=aws.bucket, Key=k)["Body"].read() for k in aws.keys(f"submissions/{clash}/")}

    other = Applicant(aws, now)
    forged = b"%PDF-1.7\n" + b"other applicant " * 40
    second = other.submit(other.body(applicant={"uscc": VALID_USCC[1], "name": "另一家公司"},
                                     attachments=attachments(other.upload(forged), other.upload(forged))))
    assert second.status == 201, second.body
    assert second.body["reference"] != clash and reference.is_valid(second.body["reference"])
    after = {k: aws.s3.get_object(Bucket=aws.bucket, Key=k)["Body"].read() for k in aws.keys(f"submissions/{clash}/")}
    assert after == before
    assert hashlib.sha256(before[store.record_key(clash)]).hexdigest() == first.body["digest"]
    # A retry of the first post still lands on its own reference.
    assert len(_subs(aws)) == 2


def test_the_record_holds_each_attachments_sha256(aws, applicant):
    """Finding 8 (the record side): the digest printed on paper covers the files' bytes too."""
    licence = b"%PDF-1.4\nlicence " + bytes(range(256))
    body = applicant.body(attachments=attachments(applicant.upload(licence), applicant.upload(PDF)))
    reply = applicant.submit(body)
    assert reply.status == 201
    ref = reply.body["reference"]
    stored = json.loads(aws.s3.get_object(Bucket=aws.bucket, Key=store.record_key(ref))["Body"].read())
    by_name = {f["name"]: f for f in stored["files"]}
    assert by_name["license-1.pdf"]["sha256"] == hashlib.sha256(licence).hexdigest()
    assert by_name["ip-1.pdf"]["sha256"] == hashlib.sha256(PDF).hexdigest()
    for name, f in by_name.items():
        data = aws.s3.get_object(Bucket=aws.bucket, Key=store.attachment_key(ref, name))["Body"].read()
        assert hashlib.sha256(data).hexdigest() == f["sha256"] and len(data) == f["size"]
