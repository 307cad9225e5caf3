"""The 申报书's attachments: their kinds, how many of each and how large a file may be.

Apart from the models (bdpilot.domain.application, which re-exports these) so that the settings and the upload
step, on a cold start's path, need not build the 申报书.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple

MAX_ATTACHMENTS_PER_KIND = 5
MAX_UPLOAD_BYTES = 20 * 1024 * 1024  # per file; the upload form's content-length-range


class AttachmentKind(StrEnum):
    LICENSE = "license"
    IP = "ip"
    USAGE = "usage"
    OTHER = "other"


class AttachmentKindInfo(NamedTuple):
    title: str
    required: bool


ATTACHMENT_KINDS: dict[AttachmentKind, AttachmentKindInfo] = {
    AttachmentKind.LICENSE: AttachmentKindInfo(title="营业执照（或法人证书）", required=True),
    AttachmentKind.IP: AttachmentKindInfo(title="知识产权证明", required=True),
    AttachmentKind.USAGE: AttachmentKindInfo(title="应用证明", required=False),
    AttachmentKind.OTHER: AttachmentKindInfo(title="其他材料", required=False),
}
