"""The one formatter of generated tables: a cell as text (:func:`number`) and a frame of display
cells as Markdown, LaTeX (booktabs) or CSV (:func:`render_table`). Every table the project
writes (paper tables, complexity, the transformers table, speed summaries, check-data, the demo,
curves and comparisons) goes through it, so columns of numbers are right-aligned in Markdown
and LaTeX alike and LaTeX gets true minus signs, here once."""
from __future__ import annotations

import re
from typing import Optional

import numpy as np
import pandas as pd

FORMATS = ("md", "tex", "csv")
# a cell that reads as a number: signed, thousands commas, a unit-like suffix (%, x for ratios, ? for
# an uncertain paper cell), or a range "11.5-16.3"; missing markers do not decide a column's kind
_NUMBER = r"[+-]?\d[\d,]*(?:\.\d+)?"
NUMERIC_CELL = re.compile(rf"^{_NUMBER}(?:%|x|\?| ms| MB| GB)?$|^{_NUMBER}-{_NUMBER}$"
                          rf"|^{_NUMBER} ± {_NUMBER}(?: \(\d+\))?$")
# a value over seeds as a report writes it: mean ± standard deviation (seeds)
MEAN_SD = re.compile(rf"^({_NUMBER}) ± ({_NUMBER}) \((\d+)\)$")
MISSING_CELLS = {"", "-", "OOM", "nan", "running", "pending", "submitted", "failed", "unknown"}
_TEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def number(v: Optional[float], digits: int = 1, sign: bool = False, unit: str = "") -> str:
    """The one formatter of a table cell: a dash for a missing value, OOM for one that did not fit."""
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "-"
    if v == float("inf"):
        return "OOM"
    return (f"{v:+.{digits}f}" if sign else f"{v:.{digits}f}") + unit


def numeric_columns(shown: pd.DataFrame) -> list[bool]:
    """Per column: True where every cell reads as a number or is missing (a metric no run has
    measured yet is still a column of numbers), unless every cell is blank (a column of notes)."""
    out = []
    for col in shown.columns:
        cells = [str(v).strip() for v in shown[col]]
        present = [c for c in cells if c not in MISSING_CELLS]
        out.append(all(NUMERIC_CELL.match(c) for c in present) and any(cells))
    return out


def _tex_text(text: str) -> str:
    return "".join(_TEX_SPECIAL.get(ch, ch) for ch in str(text))


def _tex_number(text: str) -> str:
    """A number cell in LaTeX: a true minus (and plus) sign, an en dash in a range."""
    text = _tex_text(text.strip())
    if text in MISSING_CELLS:
        return "--" if text == "-" else text
    seeds = MEAN_SD.match(text)
    if seeds:  # over seeds: $77.7{\pm}0.2$ (the number of seeds is in the table's note)
        return f"${seeds.group(1)}{{\\pm}}{seeds.group(2)}$"
    text = re.sub(r"^([+-])", lambda m: f"${m.group(1)}$", text)
    text = re.sub(r"(\d)-(\d)", r"\1--\2", text)  # a range: 11.5--16.3
    return text.replace(" ± ", r" $\pm$ ")


def latex_tabular(shown: pd.DataFrame, column_format: Optional[str] = None) -> str:
    """A booktabs tabular of a display frame: text columns left-aligned, number columns right-aligned
    with true minus signs, cells escaped. A row whose first cell starts with '[' (Table 4e's "[0,2]")
    gets a leading ``{}``: after ``\\\\`` or ``\\midrule`` LaTeX would read it as an optional argument
    and stop ("Illegal unit of measure")."""
    numeric = numeric_columns(shown)
    spec = column_format or "".join("r" if n else "l" for n in numeric)

    def line(cells: list[str]) -> str:
        text = " & ".join(cells) + r" \\"
        return "{}" + text if text.startswith("[") else text

    rows = [line([_tex_text(c) for c in shown.columns])]
    body = [line([_tex_number(str(v)) if n else _tex_text(v) for v, n in zip(r, numeric)])
            for r in shown.itertuples(index=False)]
    return "\n".join([rf"\begin{{tabular}}{{{spec}}}", r"\toprule", *rows, r"\midrule", *body, r"\bottomrule",
                      r"\end{tabular}"]) + "\n"


def render_table(shown: pd.DataFrame, fmt: str, column_format: Optional[str] = None) -> str:
    """A frame of display cells as a Markdown table (number columns right-aligned), a LaTeX
    booktabs tabular (``column_format``: LaTeX's column spec; default: ``l`` for text, ``r`` for
    number columns; a 'mean ± sd (n)' cell as ``$77.7{\\pm}0.2$``) or CSV."""
    if fmt == "md":
        if shown.empty and not len(shown.columns):
            return ""
        align = ["right" if n else "left" for n in numeric_columns(shown)]
        return shown.to_markdown(index=False, disable_numparse=True, colalign=align)
    if fmt == "tex":
        return latex_tabular(shown, column_format)
    if fmt == "csv":
        return shown.to_csv(index=False)
    raise ValueError(f"unknown format {fmt!r}; valid: {', '.join(FORMATS)}")


def text_columns(header: list[str], rows: list[list], gap: int = 2) -> str:
    """Plain-text columns for the terminal (``launch``, ``status``): each column as wide as its
    widest cell, nothing cut, the last column left ragged (it holds free text)."""
    cells = [[str(c) for c in header]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header) - 1)]
    return "\n".join((" " * gap).join([c.ljust(w) for c, w in zip(r, widths)] + [r[-1]]).rstrip() for r in cells)
