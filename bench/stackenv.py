"""The settings' table and bucket names from a stack created in moto, for every bench that runs the handlers.

Storing a submission writes the units table too (since the console), so a bench that named only the submissions
table and bucket failed its first post with 503: every name the stack outputs goes into the environment at once.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

NAMES = (("BDPILOT_TABLE", "TableName"), ("BDPILOT_BUCKET", "SubmissionsBucketName"),
         ("BDPILOT_UNITS_TABLE", "UnitsTableName"), ("BDPILOT_STAFF_TABLE", "StaffTableName"),
         ("BDPILOT_AUDIT_TABLE", "AuditTableName"))


def use(outputs: Mapping[str, str]) -> None:
    """Point the settings (bdpilot.settings.load) at the stack's tables and bucket."""
    for env, key in NAMES:
        os.environ[env] = outputs[key]
