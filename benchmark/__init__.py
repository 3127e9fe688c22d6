"""Paper tables as data, runs and records, complexity and speed measurement, reports and the
``vidtr-bench`` command line."""
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent  # config paths in run specs are relative to it
