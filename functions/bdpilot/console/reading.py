"""What staff read: importing this module registers the reading pages' routes.

  listing   GET /staff/                          the caller's applicants (search, paging, quota)
  detail    GET /staff/submissions/{ref}[/files/{name}]   one submission checked; attachment downloads
  exports   GET /staff/export?format=csv|xlsx    what the caller may see, as a presigned download
  auditlog  GET /staff/audit                     the audit trail (MIIT), exportable as CSV
  access    what a caller may read (the unit check by key) and presigned downloads, shared by the four
"""

from bdpilot.console import auditlog, detail, exports, listing

__all__ = ["auditlog", "detail", "exports", "listing"]
