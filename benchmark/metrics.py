"""Metrics from saved per-video scores (ensembles, per-class analysis): top-k, mean class
accuracy, and mAP for multi-label data. Written here because mmaction2 1.2.0's mAP uses
numpy functions that numpy 2.4 removed, and ensembles need the same metrics off-line."""
from __future__ import annotations

import numpy as np


def topk_accuracy(scores: np.ndarray, labels: np.ndarray, k: int) -> float:
    """Percent of videos whose label is among the k highest scores."""
    topk = np.argsort(-scores, axis=1)[:, :k]
    return float(100.0 * np.mean([labels[i] in topk[i] for i in range(len(labels))]))


def mean_class_accuracy(scores: np.ndarray, labels: np.ndarray) -> float:
    """Top-1 accuracy averaged over the classes present in ``labels`` (percent)."""
    pred = scores.argmax(axis=1)
    return float(100.0 * np.mean([np.mean(pred[labels == c] == c) for c in np.unique(labels)]))


def per_class_accuracy(scores: np.ndarray, labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Top-1 accuracy of each class (percent; NaN for classes absent from ``labels``)."""
    pred = scores.argmax(axis=1)
    out = np.full(num_classes, np.nan)
    for c in np.unique(labels):
        out[c] = 100.0 * np.mean(pred[labels == c] == c)
    return out


def average_precision(scores: np.ndarray, positives: np.ndarray) -> float:
    """AP of one class: mean precision at each positive's rank (ties broken by order)."""
    order = np.argsort(-scores, kind="stable")
    hits = positives[order].astype(bool)
    if not hits.any():
        return float("nan")
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float(precision[hits].mean())


def mean_average_precision(scores: np.ndarray, targets: np.ndarray) -> float:
    """mAP (percent) over classes with at least one positive; ``targets`` is multi-hot (N, C)."""
    aps = [average_precision(scores[:, c], targets[:, c]) for c in range(scores.shape[1])]
    return float(100.0 * np.nanmean(aps))


def metrics_from_scores(scores: np.ndarray, labels: np.ndarray, multi_label: bool = False) -> dict:
    if multi_label:
        return {"map": mean_average_precision(scores, labels)}
    # "top5" with fewer than 5 classes is top-C (100%), as mmaction2's AccMetric reports it
    return {"top1": topk_accuracy(scores, labels, 1), "top5": topk_accuracy(scores, labels, min(5, scores.shape[1])),
            "mean_class": mean_class_accuracy(scores, labels)}
