"""`bdpilot staff`: the staff console's commands (invite staff, migrate existing submissions to the units table)."""
