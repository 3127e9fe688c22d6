"""The paper's tables as data: complete, valid names, and consistent with the cleaned tables in
:data:`TABLES_MD` (outside the repository, beside the checkout; that test skips without it)."""
import re
from pathlib import Path

import pytest

import baselines
import vidtr
from benchmark.tables.paper import TABLES, Ref, paper_table, select

TABLES_MD = Path(__file__).resolve().parents[2].parent / "shared" / "paper" / "tables.md"
DESCRIPTIVE = {"model", "input", "res", "pre-train", "frames", "patch", "module", "init from", "method",
               "layers", "ensembled with", "class", "clip_len", "sample rate", "down-sample layers", "T after each"}


def test_every_paper_table_is_declared():
    assert set(TABLES) == {"1", "2", "3", "4a", "4b", "4c", "4d", "4e", "4f", "5", "6", "A.1", "A.2", "A.3"}


@pytest.mark.parametrize("table_id", list(TABLES))
def test_rows_name_buildable_models_or_say_why_not(table_id):
    known = set(vidtr.list_models()) | set(baselines.list_baselines())
    for row in paper_table(table_id).rows:
        names = [row.model] if row.model else [m.model for m in row.members]
        assert all(n in known for n in names), (row.label, names)
        if not names:
            assert "paper's numbers only" in row.note, row.label


def test_uncertain_cells_and_views_are_parsed():
    t2 = paper_table("2")
    assert t2.row("NL101").paper["top1"] == Ref(77.7, uncertain=True)
    assert t2.row("VidTr-S").paper["top1"] == Ref(77.7, uncertain=False)
    tsm = paper_table("3").row("TSM")
    assert (tsm.views, tsm.paper["gflops"].value, tsm.res) == (10, 69.0, 256)
    assert paper_table("A.1").row("F-VidTr-M").views == 1
    assert paper_table("2").row("SlowFast101 16x8").frames == 64


def _md_tables():
    """Table id -> list of (cells by column name) from :data:`TABLES_MD`."""
    out, current, header = {}, None, None
    for line in TABLES_MD.read_text().splitlines():
        m = re.match(r"^## Table (\S+?):", line) or re.match(r"^\((\w)\) ", line)
        if m:
            current = m.group(1) if line.startswith("##") else "4" + m.group(1)
            header = None
            continue
        if current and line.startswith("|") and not line.startswith("|---"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if header is None:
                header = cells
            else:
                out.setdefault(current, []).append(dict(zip(header, cells)))
    return out


@pytest.mark.skipif(not TABLES_MD.exists(), reason="shared/paper/tables.md not beside the checkout")
def test_numbers_match_the_cleaned_tables():
    md = _md_tables()
    for table_id, table in TABLES.items():
        if table_id == "1":  # Table 1 lists configurations; its GFLOPs come from Tables 2 and 3
            continue
        md_rows = md[table_id]
        assert len(md_rows) == len(table.rows), table_id
        for md_row, row in zip(md_rows, table.rows):
            md_numbers = sorted(float(x) for k, v in md_row.items() if k not in DESCRIPTIVE
                                for x in re.findall(r"\d+(?:\.\d+)?", v))
            ours = [r.value for r in row.paper.values()]
            if "gflops" in row.paper and "x" in md_row.get("GFLOPs (views x per-view)", md_row.get("GFLOPs", "")):
                ours.append(float(row.views))
            assert sorted(ours) == md_numbers, (table_id, row.label, md_row)
            uncertain = [k for k, v in row.paper.items() if v.uncertain]
            assert len(uncertain) == sum(v.endswith("?") for k, v in md_row.items() if k not in DESCRIPTIVE)


def test_bad_table_or_row_is_named_with_the_valid_ones():
    with pytest.raises(KeyError, match=r"unknown table '9'.*4a"):
        select("9")
    with pytest.raises(KeyError, match=r"no row 'VidTr-XL'.*VidTr-S"):
        select("2", ["VidTr-XL"])
    with pytest.raises(ValueError, match="--rows needs one --table"):
        select("all", ["VidTr-S"])
