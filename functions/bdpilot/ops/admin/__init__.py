"""`bdpilot admin`: list, check, export and download the stored submissions (operator tools, never deployed).

  command       the command line: arguments, dispatch (`main`)
  exits         exit codes and AdminError
  target        which deployment: local run, stack, or table and bucket names
  listing       `list`, `stats`            inspecting  `show`, `verify`          saving  `export`, `download`
  terminal      text for a person at a terminal
The reading, checking and export code it shares with the staff console lives in bdpilot.console.records
(selection, cells, verification, exporting, writers).
"""
