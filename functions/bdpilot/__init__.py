"""bdpilot: the online home of the 2020 big-data industry pilot call (工信厅信软函〔2019〕243号)."""

__version__ = "0.1.0"
