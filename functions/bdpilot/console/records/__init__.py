"""Reading stored submissions out, shared by the staff console and `bdpilot admin` (moved here from ops/admin so
that the console, a lower layer than ops, can use them):

  cells         one record as columns and spreadsheet-safe cells (columns derived from the models)
  selection     which submissions: filters and index queries, stats
  verification  stored record and attachments against what was registered
  exporting     the streaming export and the download
  writers       the XLSX workbook and the folder/ZIP sink
"""
