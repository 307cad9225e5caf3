"""Where each version of a submission is stored: version 1 keeps the keys every submission had; later ones go
under v<n>/ and never share a key with another version."""

from __future__ import annotations

import pytest

from bdpilot.store.layout import attachment_key, record_key, version_of, version_prefix

REF = "BD2020-ABCD-EFGH-JKLM-NPQ1"


def test_version_1_keeps_the_keys_of_a_submission_never_revised() -> None:
    assert record_key(REF) == record_key(REF, 1) == f"submissions/{REF}/record.json"
    assert attachment_key(REF, "license-1.pdf") == attachment_key(REF, "license-1.pdf", 1) == \
        f"submissions/{REF}/attachments/license-1.pdf"


def test_later_versions_live_in_their_own_folder() -> None:
    assert record_key(REF, 2) == f"submissions/{REF}/v2/record.json"
    assert attachment_key(REF, "ip-2.pdf", 12) == f"submissions/{REF}/v12/attachments/ip-2.pdf"
    # The listing prefix of version 1's attachments holds no other version's files.
    keys = {attachment_key(REF, "ip-1.pdf", n) for n in range(1, 5)} | {record_key(REF, n) for n in range(1, 5)}
    assert len(keys) == 8
    assert [k for k in keys if k.startswith(attachment_key(REF, "", 1))] == [attachment_key(REF, "ip-1.pdf", 1)]


def test_no_version_zero() -> None:
    with pytest.raises(ValueError):
        version_prefix(REF, 0)


@pytest.mark.parametrize(("item", "expected"), [(None, 1), ({}, 1), ({"version": 3}, 3), ({"version": "2"}, 2),
                                                ({"version": 0}, 1), ({"version": "x"}, 1)])
def test_version_of_an_index_item(item, expected) -> None:
    assert version_of(item) == expected
