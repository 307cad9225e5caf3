"""`bdpilot admin`: list, check, export and download the stored submissions (operator tools, never deployed).

  command       the command line: arguments, dispatch (`main`)
  exits         exit codes and AdminError
  target        which deployment: local run, stack, or table and bucket names
  listing       `list`, `stats`            inspecting  `show`, `verify`          saving  `export`, `download`
  selection     which submissions: filters and index queries, stats
  cells         one record as columns and spreadsheet-safe cells (columns derived from the models)
  verification  stored record and attachments against what was registered
  exporting     the streaming export and the download
  writers       the XLSX workbook and the folder/ZIP sink
  terminal      text for a person at a terminal
"""
