"""The one way a record's metrics are computed: from its saved per-video scores, with
mmaction2's own functional metrics (``mmaction.evaluation.functional``, as its
``tools/analysis_tools/report_accuracy.py`` scores fused predictions). Single runs and
ensembles alike, so a record's numbers can be recomputed from its scores file and an
ensemble row is scored exactly like its members.

mmaction2's definitions, which this module keeps (they differ from the obvious ones):

* mean class accuracy averages over the classes that occur in the labels *or* the
  predictions; a class that is predicted but never a label counts as 0 accuracy;
* AP of a class (mean_average_precision, the per-class mAP its ``AccMetric`` reports for
  Charades) treats tied scores as one threshold, as a precision-recall curve does.

None of these functions needs what numpy 2.4 removed (``np.trapz``, ``np.in1d`` are used
elsewhere in mmaction2); the project pins numpy < 2.4 regardless."""
from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
from mmaction.evaluation import functional as mmf


def metrics_from_scores(scores: np.ndarray, labels: np.ndarray, multi_label: bool = False) -> dict:
    """Record metrics (percent) of per-video ``scores`` (N, C): top1, top5 and mean_class for
    single-label ``labels`` (N,); map for multi-hot ``labels`` (N, C). "top5" with fewer than 5
    classes is top-C (100%), as mmaction2 computes it."""
    scores = np.asarray(scores)
    labels = np.asarray(labels)
    if len(scores) != len(labels):
        raise ValueError(f"{len(scores)} score rows for {len(labels)} labels")
    if multi_label:
        return {"map": mean_average_precision(scores, labels)}
    labels = labels.astype(np.int64)
    top1, top5 = mmf.top_k_accuracy(scores, labels, (1, 5))
    return {"top1": 100.0 * float(top1), "top5": 100.0 * float(top5),
            "mean_class": 100.0 * float(mmf.mean_class_accuracy(scores, labels))}


def mean_average_precision(scores: np.ndarray, targets: np.ndarray) -> float:
    """mmaction2's per-class mAP (percent) over classes with at least one positive; ``targets``
    is multi-hot (N, C)."""
    with np.errstate(invalid="ignore", divide="ignore"):  # a class without positives: NaN, left out
        return 100.0 * float(mmf.mean_average_precision(list(np.asarray(scores)), list(np.asarray(targets))))


def load_scores(path) -> dict:
    """A scores file (``scores.npz``: scores, labels, videos) as arrays; a missing, cut or
    otherwise unreadable one is a one-line error naming the file."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"scores file {path} is missing")
    try:
        with np.load(path) as z:
            out = {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise ValueError(f"scores file {path} is damaged ({type(e).__name__}: {e}); test its run again "
                         "(launch --force --rows ROW)") from None
    missing = [k for k in ("scores", "labels", "videos") if k not in out]
    if missing:
        raise ValueError(f"scores file {path} has no {', '.join(missing)}; test its run again")
    return out


def scores_file_metrics(path) -> dict:
    """The record metrics of a scores file: multi-label when its labels are multi-hot (N, C)."""
    z = load_scores(path)
    return metrics_from_scores(z["scores"], z["labels"], multi_label=z["labels"].ndim == 2)


def per_class_accuracy(scores: np.ndarray, labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Top-1 accuracy of each class (percent; NaN for classes absent from ``labels``), for Table
    A.4: mmaction2's per-class hit rate (its ``top_k_classes``) without its 0 for absent classes."""
    pred = np.asarray(scores).argmax(axis=1)
    out = np.full(num_classes, np.nan)
    for c in np.unique(labels):
        out[c] = 100.0 * np.mean(pred[labels == c] == c)
    return out


def over_seeds(values) -> tuple[float, float, int]:
    """A metric over seeds (each seed a run): the mean, the sample standard deviation (ddof=1; NaN
    for one seed) and the number of seeds. The one aggregation of seeds: paper-table reports and
    the demo's pooled rows both use it."""
    v = np.asarray([x for x in values if x is not None], dtype=float)
    if v.size == 0:
        return float("nan"), float("nan"), 0
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else float("nan"), int(v.size)
