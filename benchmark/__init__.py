"""vidtr-bench: the paper's tables as data, runs and records, measurements, reports and the
``vidtr-bench`` command line. The subpackages follow the data:

``tables`` (the paper's tables, the model catalogue) -> ``runs`` (rows -> runs, launch, job,
records, run state) -> ``report`` (tables, figures); ``measure`` counts and times models without
training them; ``data`` holds datasets and video files; ``demo`` is the built-in mini benchmark.
At the top: ``cli`` (the dispatcher), ``smoke`` (the smoke table), ``files`` (atomic writes),
``formatting`` (the one cell and table formatter), ``provenance`` (code and library versions,
the device) and ``console`` (terminal output)."""
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent  # config paths in run specs are relative to it
