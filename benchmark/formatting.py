"""The one formatter of generated tables: a cell as text (:func:`number`) and a frame of display
cells as Markdown, LaTeX (booktabs) or CSV (:func:`render_table`). Every table the project
writes (paper tables, complexity, the transformers table, speed summaries, check-data, the demo)
goes through it."""
from __future__ import annotations

import re
from typing import Optional

import numpy as np
import pandas as pd

FORMATS = ("md", "tex", "csv")


def number(v: Optional[float], digits: int = 1, sign: bool = False, unit: str = "") -> str:
    """The one formatter of a table cell: a dash for a missing value, OOM for one that did not fit."""
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "-"
    if v == float("inf"):
        return "OOM"
    return (f"{v:+.{digits}f}" if sign else f"{v:.{digits}f}") + unit


def latex_tabular(shown: pd.DataFrame, **kwargs) -> str:
    """A booktabs tabular of a display frame, cells escaped. A row whose first cell starts with '['
    (Table 4e's "[0,2]") gets a leading ``{}``: after ``\\\\`` or ``\\midrule`` LaTeX would read it as
    an optional argument and stop ("Illegal unit of measure")."""
    body = shown.to_latex(index=False, escape=True, **kwargs)
    return "".join("{}" + ln if ln.startswith("[") else ln for ln in body.splitlines(keepends=True))


# a value over seeds as Markdown writes it: mean ± standard deviation (seeds)
MEAN_SD = re.compile(r"(?<![\w.])([+-]?\d+(?:\.\d+)?) ± (\d+(?:\.\d+)?) \((\d+)\)")


def render_table(shown: pd.DataFrame, fmt: str, column_format: Optional[str] = None) -> str:
    """A frame of display cells as a Markdown table, a LaTeX tabular (``column_format``: LaTeX's
    column spec, pandas' default when None; a 'mean ± sd (n)' cell as ``$77.7{\\pm}0.2$``) or CSV."""
    if fmt == "md":
        return shown.to_markdown(index=False, disable_numparse=True)
    if fmt == "tex":
        body = latex_tabular(shown, **({"column_format": column_format} if column_format else {}))
        return MEAN_SD.sub(lambda m: f"${m.group(1)}{{\\pm}}{m.group(2)}$", body)
    if fmt == "csv":
        return shown.to_csv(index=False)
    raise ValueError(f"unknown format {fmt!r}; valid: {', '.join(FORMATS)}")
