"""Every table of the VidTr paper as data: rows, each a model (a VidTr name, a baseline
name, or None for models only the paper has), its input, its evaluation views and the
paper's reference values. The one place that holds the paper's numbers (transcribed from a
cleaned reading of the paper's tables, which OCR mangles; a trailing ``?`` marks a cell the OCR
leaves uncertain).

Values are written as the paper prints them, one whitespace-separated cell per metric:
``-`` is an empty cell, ``30x39`` is "views x per-view GFLOPs".
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

# metric keys -> column headings
METRICS = {
    "gflops": "GFLOPs", "latency_ms": "latency (ms)", "top1": "top-1", "top5": "top-5",
    "memory_gb": "memory (GB)", "map": "mAP", "charades_map": "Charades mAP", "ssv2_top1": "SSv2 top-1",
    "ucf_top1": "UCF top-1", "hmdb_top1": "HMDB top-1", "mean_class": "mean class acc.", "params_m": "params (M)",
}


@dataclass(frozen=True)
class Ref:
    """One paper cell."""
    value: float
    uncertain: bool = False

    def __str__(self):
        return f"{self.value:g}{'?' if self.uncertain else ''}"


@dataclass(frozen=True)
class Member:
    """One model of an ensemble: which model, and the frames, resolution and frame interval it sees.
    ``interval`` is the one the table prints (A.2's 16x4, 6's and A.3's 32x4), so that an ensemble
    reuses the run of the row that shows the member alone; None keeps the config's (SlowFast's own
    sampling)."""
    model: str
    frames: int
    res: int = 224
    interval: Optional[int] = None


@dataclass(frozen=True)
class Row:
    label: str  # as the paper prints it
    model: Optional[str]  # vidtr.list_models() / baselines.list_baselines() name; None: paper only
    input: str  # as printed: "8x8", "(32+8)x2", "8f TSN"
    frames: int  # frames one view feeds the model
    views: int
    res: int = 224
    paper: dict = field(default_factory=dict)  # metric -> Ref
    members: tuple = ()  # ensembles: Member, ...
    note: str = ""

    @property
    def runnable(self) -> bool:
        return self.model is not None or bool(self.members)


@dataclass(frozen=True)
class Table:
    id: str
    title: str
    dataset: str
    num_classes: int
    metrics: tuple
    rows: tuple
    note: str = ""
    figure: str = ""  # file stem of its accuracy-vs-GFLOPs figure, if the report draws one (Figure 3)

    def row(self, label: str) -> Row:
        for r in self.rows:
            if r.label == label:
                return r
        raise KeyError(f"table {self.id} has no row {label!r}; valid rows: {', '.join(r.label for r in self.rows)}")


def _frames(text: str) -> int:
    m = re.match(r"\(?(\d+)", text)
    if not m:
        raise ValueError(f"cannot read a frame count from input {text!r}")
    return int(m.group(1))


def _table(id, title, dataset, num_classes, metrics, rows, views=30, note="", figure=""):
    """rows: (label, model, input, cells[, dict(frames=, views=, res=, members=, note=)])."""
    out = []
    for label, model, inp, cells, *extra in rows:
        kw = dict(extra[0]) if extra else {}
        tokens = cells.split()
        if len(tokens) != len(metrics):
            raise ValueError(f"table {id}, row {label!r}: {len(tokens)} cells for {len(metrics)} metrics {metrics}")
        paper = {}
        for metric, tok in zip(metrics, tokens):
            if tok == "-":
                continue
            if "x" in tok:  # "30x39": views x per-view
                v, tok = tok.split("x")
                kw.setdefault("views", int(v))
            paper[metric] = Ref(float(tok.rstrip("?")), tok.endswith("?"))
        kw.setdefault("views", views)
        kw.setdefault("frames", _frames(inp))
        if "members" in kw:
            kw["members"] = tuple(Member(*m) for m in kw["members"])
        out.append(Row(label, model, inp, paper=paper, **kw))
    return Table(id, title, dataset, num_classes, tuple(metrics), tuple(out), note, figure)


ZOO_LACKS = "not in mmaction2's model zoo: the paper's numbers only"
# measured with benchmark/complexity.py's counters (results/complexity/): per-view GFLOPs
_CVIDTR_M = ("no single counting convention reproduces both C-VidTr-S (39) and C-VidTr-M (59) with the released "
             "pooling schedules: MLP + patch stem (the paper's convention for every other VidTr row) gives 39.8 and "
             "46.2, with the attention projections 61.3 and 73.3, fvcore 64.7 and 77.3; the paper's ratio 59/39 = "
             "1.51, every count here 1.16-1.20")
# the "light weight I3D50 (8 frames input)" of the ensembles: 89 + 41 = 130 GFLOPs for En-VidTr-S
_I3D8 = ("i3d_r50_heavy", 8, 256)
# Table 2's convolutional rows come from the cited papers, which count FLOPs on 256x256 crops
# (mmaction2's metafile does too: its I3D-heavy 166.3 and SlowFast-R50 66.1 GFLOPs are 256x256
# counts); TPN's and VidTr's figures match 224x224 counts.
_AT256 = dict(res=256)

TABLES = {t.id: t for t in [
    _table("1", "VidTr configurations (Kinetics-400)", "k400", 400, ("gflops",), [
        ("VidTr-S", "vidtr_s_8x8", "8x8", "89"),
        ("VidTr-M", "vidtr_m_16x4", "16x4", "179"),
        ("VidTr-L", "vidtr_l_32x2", "32x2", "351"),
        ("C-VidTr-S", "cvidtr_s_8x8", "8x8", "39"),
        ("C-VidTr-M", "cvidtr_m_16x4", "16x4", "59", dict(note=_CVIDTR_M)),
        ("C-VidTr-L", "cvidtr_l_32x2", "32x2", "79"),
    ], note="GFLOPs from Tables 2 and 3. C-VidTr-S follows the released config (pooling at layers "
            "1, 3, 5 keeping 6, 4, 2 frames); Table 1 prints [1,2,4] -> [6,4,2]."),
    _table("2", "Kinetics-400: comparison to the state of the art", "k400", 400,
           ("gflops", "latency_ms", "top1", "top5"), [
        ("I3D50", "i3d_r50_heavy", "32x2", "167 74.4 75.0 92.2", _AT256),
        ("I3D101", "i3d_r101_heavy", "32x2", "342 118.3 77.4 92.7", _AT256),
        ("NL50", "i3d_nl50_heavy", "32x2", "282 53.3 76.5 92.6", _AT256),
        ("NL101", "i3d_nl101_heavy", "32x2", "544 134.1 77.7? 93.3", _AT256),
        ("TEA50", None, "16x2", "70 - 76.1 92.5", dict(note=ZOO_LACKS)),
        ("TEINet", None, "16x2", "66 49.5 76.2 92.5", dict(note=ZOO_LACKS)),
        ("CIDC", None, "32x2", "101 82.3 75.5 92.1", dict(note=ZOO_LACKS)),
        ("SlowFast50 8x8", "slowfast_r50_8x8", "(32+8)x2", "66 49.3 77.0 92.6", _AT256),
        ("SlowFast101 8x8", "slowfast_r101_8x8", "(32+8)x2", "106 71.9 77.5? 92.3", _AT256),
        ("SlowFast101 16x8", "slowfast_r101_16x8", "(64+16)x2", "213 124.3 78.9 93.5", _AT256),
        ("TPN50", "tpn_r50", "32x2", "199 89.3 77.7 93.3"),
        ("TPN101", "tpn_r101", "32x2", "374 133.4 78.9 93.9"),
        ("CorrNet50", None, "32x2", "115 - 77.2? -", dict(note=ZOO_LACKS)),
        ("CorrNet101", None, "32x2", "187 - 78.5 -", dict(note=ZOO_LACKS)),
        ("X3D-XXL", None, "16x5", "196 - 80.4 94.6",
         dict(note="X3D-XXL's expansion factors are in no mmaction2 or pySlowFast config: the paper's numbers only")),
        ("Vanilla-Tr", "vanilla_tr_8x8", "8x8", "89 59.1 77.5? 93.2"),
        ("VidTr-S", "vidtr_s_8x8", "8x8", "89 65.3 77.7 93.3"),
        ("VidTr-M", "vidtr_m_16x4", "16x4", "179 114.9 78.6 93.5"),
        ("VidTr-L", "vidtr_l_32x2", "32x2", "351 138.8 79.1 93.9"),
        ("En-VidTr-S", None, "8x8", "130 102.3 79.4 94.0", dict(members=[("vidtr_s_8x8", 8), _I3D8])),
        ("En-VidTr-M", None, "16x4", "220 151.9 79.7 94.2", dict(members=[("vidtr_m_16x4", 16), _I3D8])),
        ("En-VidTr-L", None, "32x2", "392 175.8 80.5 94.6", dict(members=[("vidtr_l_32x2", 32), _I3D8])),
    ], note="GFLOPs and latency (one V100) per view; 30 views. OCR '71.x' cells read as 77.x are marked '?'. "
            "I3D and NL rows are the 'heavy' I3D (every block inflated, no early temporal stride) of TPN [57], "
            "which the table cites; they and SlowFast are counted at 256x256, the crop their cited figures "
            "use (224x224 gives (224/256)^2 = 0.77 of it).", figure="figure3"),
    _table("3", "Compact models on Kinetics-400", "k400", 400, ("gflops", "latency_ms", "top1"), [
        ("TSM", "tsm_r50", "8f TSN", "10x69 290 74.7", dict(res=256)),
        ("TEA", None, "16x4", "30x70 - 76.1", dict(res=256, note=ZOO_LACKS)),
        ("3DEffi-B4", None, "16x5", "10x7 - 72.4", dict(note=ZOO_LACKS)),
        ("TEINet", None, "16x4", "30x33 1080 74.9", dict(res=256, note=ZOO_LACKS)),
        ("X3D-M", "x3d_m", "16x5", "10x5 1100 74.6"),
        ("X3D-L", "x3d_l", "16x5", "10x19 1900 76.8", dict(res=312)),
        ("C-VidTr-S", "cvidtr_s_8x8", "8x8", "30x39 1110 75.7"),
        ("C-VidTr-M", "cvidtr_m_16x4", "16x4", "30x59 1590 76.7", dict(note=_CVIDTR_M)),
        ("C-VidTr-L", "cvidtr_l_32x2", "32x2", "30x79 1740 77.3"),
    ], note="GFLOPs as views x per view; latency for the whole evaluation of one video."),
    _table("4a", "Ablation: patching (VidTr-S)", "k400", 400, ("gflops", "top1"), [
        ("cubic 4x16^2", "vidtr_s_cubic4x16_8x8", "8x8", "23 73.1"),
        ("cubic 2x16^2", "vidtr_s_cubic2x16_8x8", "8x8", "45 75.5"),
        ("square 1x16^2", "vidtr_s_square1x16_8x8", "8x8", "89 77.7"),
        ("square 1x32^2", "vidtr_s_square1x32_8x8", "8x8", "21 71.2"),
    ]),
    _table("4b", "Ablation: temporal modelling (VidTr-S)", "k400", 400, ("memory_gb", "top1"), [
        ("spatial only", "vidtr_s_spatial_only_8x8", "8x8", "2.1 74.7"),
        ("joint (vanilla)", "vidtr_s_joint_8x8", "8x8", "7.6 77.5?"),
        ("temporal then spatial", "vidtr_s_temporal_spatial_8x8", "8x8", "2.3 77.7"),
        ("spatial then temporal", "vidtr_s_spatial_temporal_8x8", "8x8", "2.3 77.7"),
    ], note="Memory: one training step, batch 1, 8x224x224. The paper also states that the joint model "
            "needs more than 16 GB at 16 frames."),
    _table("4c", "Ablation: initialisation / backbone", "k400", 400, ("gflops", "top1"), [
        ("T2T", "vidtr_t2t14_8x8", "8x8", "34 76.3",
         dict(note="T2T-ViT-14-sized backbone, a plain patch stem in place of the tokens-to-token module (which "
                   "adds only about 2 GFLOPs for 8 frames: not the gap). The paper's convention counts nn.Linear / "
                   "nn.Conv modules only; timm's T2T-ViT has its attention projections (qkv, proj) as nn.Linear, so "
                   "the paper's 34 counts them: MLP + stem 19.9, with the attention projections over patch tokens "
                   "32.8, with the T2T module about 35")),
        ("ViT-B", "vidtr_b16_8x8", "8x8", "89 77.7"),
        ("ViT-L", "vidtr_l16_8x8", "8x8", "358 77.5?"),
    ]),
    _table("4d", "Ablation: down-sampling method (C-VidTr-S)", "k400", 400, ("gflops", "top1", "top5"), [
        ("temporal average pooling", "cvidtr_s_avgpool_8x8", "8x8", "- 74.9 91.6"),
        ("1D convolution", "cvidtr_s_conv1d_8x8", "8x8", "- 75.4 92.3"),
        ("std topK pooling", "cvidtr_s_stdtopk_8x8", "8x8", "- 75.7 92.2"),
    ], note="The rows differ in compute, not only in the pooling method: std-topK (the released C-VidTr-S) "
            "pools at layers [1,3,5] (8 -> 6 -> 4 -> 2 frames), while average and 1D-conv pooling, stride 2, "
            "cannot keep 6 of 8 frames and pool at [1,3] (8 -> 4 -> 2): 39.8 vs 32.4 GFLOPs per view (paper "
            "convention; fvcore 64.7 vs 53.3). The GFLOPs column gives each row's; the paper prints none."),
    _table("4e", "Ablation: down-sample twice at layers k and k+2 (T 8 -> 4 -> 2)", "k400", 400,
           ("gflops", "top1"), [
        (f"[{a},{b}]", f"cvidtr_s_ds{a}_{b}_8x8", "8x8", cells)
        for (a, b), cells in [((0, 2), "26 72.9"), ((1, 3), "32 74.9"), ((2, 4), "47 74.9"), ((6, 8), "60 75.3")]
    ]),
    _table("4f", "Ablation: down-sample twice from layer 1, varying the gap", "k400", 400, ("gflops", "top1"), [
        (f"[{a},{b}]", f"cvidtr_s_ds{a}_{b}_8x8", "8x8", cells)
        for (a, b), cells in [((1, 2), "30 73.9"), ((1, 3), "32 74.9"), ((1, 4), "33 75.0"), ((1, 5), "34 75.2")]
    ]),
    _table("5", "Kinetics-700", "k700", 700, ("top1", "top5"), [
        ("I3D50", "i3d_r50", "32x2", "58.7 -"),
        ("CSN152 (IG65M)", "csn_ir152", "32x2", "70.1 89.5"),
        ("SlowFast101 8x8 (K400+K600)", "slowfast_r101_8x8", "(32+8)x2", "70.2 89.8"),
        ("SlowFast101-NL 8x8 (K400+K600)", None, "(32+8)x2", "70.6 89.7",
         dict(note="mmaction2's zoo has no non-local SlowFast: the paper's numbers only")),
        ("NUTA50", None, "32x2", "68.9 88.9", dict(note=ZOO_LACKS)),
        ("VidTr-S", "vidtr_s_8x8", "8x8", "67.3 87.7"),
        ("VidTr-M", "vidtr_m_16x4", "16x4", "69.5 88.3"),
        ("VidTr-L", "vidtr_l_32x2", "32x2", "70.2 89.0"),
        ("En-VidTr-L", None, "32x2", "70.8 89.4", dict(members=[("vidtr_l_32x2", 32), _I3D8])),
    ], note="VidTr rows start from the Kinetics-400 checkpoint."),
    _table("6", "Charades (mAP), Something-Something V2, UCF-101, HMDB-51 (top-1, split 1)", "multi", 400,
           ("charades_map", "ssv2_top1", "ucf_top1", "hmdb_top1"), [
        ("I3D", None, "64x1", "32.9 50.0 95.1 74.3", dict(note="I3D-Inception: " + ZOO_LACKS)),
        ("TSM", "tsm_r50", "8 (TSN)", "- 59.3 94.5 70.7"),
        ("I3D101", "i3d_r101", "32x4", "40.3 - - -"),
        ("STRG", None, "32x4", "39.7 - - -", dict(note=ZOO_LACKS)),
        ("LFB", None, "32x4", "42.5 - - -", dict(note=ZOO_LACKS)),
        ("NL-101", "i3d_nl101", "32x4", "37.5 - - -"),
        ("TEINet", None, "16 (TSN)", "- 62.1 96.7 73.3", dict(note=ZOO_LACKS)),
        ("SlowFast101", "slowfast_r101_8x8", "(64+8)x2", "- 60.9 - -", dict(frames=32)),
        ("SlowFast101-NL", None, "(64+8)x2", "45.2 - - -",
         dict(note="mmaction2's zoo has no non-local SlowFast: the paper's numbers only")),
        ("X3D-XL", "x3d_xl", "16x5", "47.1 - - -", dict(res=312)),
        ("VidTr-M", "vidtr_m_16x4", "16x4", "- 60.1 96.6 74.4"),
        ("VidTr-L", "vidtr_l_32x2", "32x4", "43.5 60.2 96.7 74.4"),
        ("En-VidTr-L", None, "32x4", "47.3 - - -",
         dict(members=[("vidtr_l_32x2", 32, 224, 4), ("i3d_r101", 32, 224, 4)])),
    ], note="SSv2 with a TSN-style sampler; UCF/HMDB fine-tuned 6 epochs from Kinetics-400. Complexity "
            "columns use a 400-class head."),
    _table("A.1", "Single-pass 'Fast VidTr' (uniform N frames, one centre crop)", "k400", 400,
           ("gflops", "latency_ms", "top1"), [
        ("TSM", "tsm_r50", "8f TSN", "330? 170 74.1", dict(res=256, views=10)),
        ("3DEffi-B4", None, "16x5", "69? - 72.4", dict(views=10, note=ZOO_LACKS)),
        ("TEINet", None, "16x4", "990 1080 74.9", dict(res=256, note=ZOO_LACKS)),
        ("X3D-M", "x3d_m", "16x5", "47? 1100 74.6", dict(views=10)),
        ("F-VidTr-S", "cvidtr_s_8x8", "8x8", "1x39 37 72.9"),
        ("F-VidTr-M", "cvidtr_m_16x4", "16x4", "1x59 53 74.7"),
    ], note="Comparators: 10 temporal views x 1 centre crop (TEINet 30 views). The text puts TSM near 197 "
            "GFLOPs, not 330."),
    _table("A.2", "Ensembles on Kinetics-400 (score averaging)", "k400", 400, ("top1", "top5"), [
        ("I3D50", "i3d_r50", "16x4", "75.0 92.2"),
        ("I3D101", "i3d_r101", "16x4", "77.4 92.7"),
        ("TPN101", "tpn_r101", "16x4", "78.2 93.4"),
        ("I3D50 + I3D101", None, "16x4", "77.7 93.2",
         dict(members=[("i3d_r50", 16, 224, 4), ("i3d_r101", 16, 224, 4)])),
        ("TPN101 + I3D50", None, "16x4", "78.5 93.3",
         dict(members=[("tpn_r101", 16, 224, 4), ("i3d_r50", 16, 224, 4)])),
        ("TPN101 + I3D101", None, "16x4", "79.3 93.8",
         dict(members=[("tpn_r101", 16, 224, 4), ("i3d_r101", 16, 224, 4)])),
        ("VidTr-S + I3D50", None, "8x8", "79.4 94.0", dict(members=[("vidtr_s_8x8", 8), ("i3d_r50", 16, 224, 4)])),
        ("VidTr-S + I3D101", None, "8x8", "80.3 94.6", dict(members=[("vidtr_s_8x8", 8), ("i3d_r101", 16, 224, 4)])),
        ("VidTr-S + TPN101", None, "8x8", "80.5 94.8", dict(members=[("vidtr_s_8x8", 8), ("tpn_r101", 16, 224, 4)])),
    ]),
    _table("A.3", "Ensembles on Charades (mAP)", "charades", 157, ("map",), [
        ("I3D-Inception", None, "64x1", "32.9", dict(res=256, note=ZOO_LACKS)),
        ("SlowFast-101-NL (reproduced)", None, "32x4", "44.7",
         dict(res=256, note="mmaction2's zoo has no non-local SlowFast: the paper's numbers only")),
        ("CSN-152 (reproduced)", "csn_ir152", "32x4", "46.4", dict(res=256)),
        ("En-I3D-101 + I3D-50", None, "32x4", "42.1",
         dict(res=256, members=[("i3d_r101", 32, 256, 4), ("i3d_r50", 32, 256, 4)])),
        ("En-I3D-101 + SF-101", None, "32x4", "47.9",
         dict(res=256, members=[("i3d_r101", 32, 256, 4), ("slowfast_r101_8x8", 32, 256)])),
        ("En-I3D-101 + CSN-152", None, "32x4", "49.2",
         dict(res=256, members=[("i3d_r101", 32, 256, 4), ("csn_ir152", 32, 256, 4)])),
        ("En-VidTr-L + I3D-101", None, "32x4", "47.3",
         dict(members=[("vidtr_l_32x2", 32, 224, 4), ("i3d_r101", 32, 256, 4)])),
        ("En-VidTr-L + SF-101", None, "32x4", "48.9",
         dict(members=[("vidtr_l_32x2", 32, 224, 4), ("slowfast_r101_8x8", 32, 256)])),
        ("En-VidTr-L + CSN-152", None, "32x4", "51.2",
         dict(members=[("vidtr_l_32x2", 32, 224, 4), ("csn_ir152", 32, 256, 4)])),
    ]),
]}


def paper_table(table_id: str) -> Table:
    """One of the paper's tables by id, or a one-line error naming the valid ids."""
    if table_id not in TABLES:
        raise KeyError(f"unknown table {table_id!r}; valid tables: {', '.join(TABLES)}")
    return TABLES[table_id]


def select(table_id: str, rows: Optional[list] = None) -> list[tuple[Table, Row]]:
    """(table, row) pairs for ``--table ID|all [--rows LABEL ...]``, with clear errors."""
    tables = list(TABLES.values()) if table_id == "all" else [paper_table(table_id)]
    if rows:
        if table_id == "all":
            raise ValueError("--rows needs one --table, not 'all'")
        return [(tables[0], tables[0].row(r)) for r in rows]
    return [(t, r) for t in tables for r in t.rows]
