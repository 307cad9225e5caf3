"""Storage, the only package that talks to AWS (S3 for records and files, DynamoDB for the index).

  writer   the public function's role: uploads, the submission's transaction (what `intake` and `web` use)
  reader   the staff's role: listing, counting and reading submissions back (`bdpilot admin`, the local run)
  errors   AWS failures mapped to our exceptions (StorageUnavailable and what kind, Conflict)
  layout   bucket keys, table indexes and client settings both roles share

This module re-exports the writer's names only: importing it never loads the reader.
"""

from bdpilot.store.errors import Conflict, StorageUnavailable
from bdpilot.store.layout import (
           EXPORTS,
           INDEXES,
           SUBMISSIONS,
           UPLOADS,
           attachment_key,
           record_key,
           s3_config,
           upload_key,
)
from bdpilot.store.writer import IDEMPOTENCY_DAYS, Store, UploadInfo

__all__ = ["EXPORTS", "IDEMPOTENCY_DAYS", "INDEXES", "SUBMISSIONS", "UPLOADS", "Conflict", "StorageUnavailable",
           "Store", "UploadInfo", "attachment_key", "record_key", "s3_config", "upload_key"]
