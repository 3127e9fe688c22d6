"""The demo's statistics over seeds and test clips: the order-pair accuracy, top-1 with each
class merged with its time-reversal, and a bootstrap interval that draws seeds and clips."""
from __future__ import annotations

import numpy as np

BOOTSTRAP = 2000  # resamples of the 95% interval


def order_pair_accuracy(scores: np.ndarray, labels: np.ndarray, reverse: list[int]) -> np.ndarray:
    """Per clip of a class that has a distinct time-reversal partner: 1 if the clip's own class
    scores above its partner class, 0 if below, 0.5 on a tie; NaN for self-reverse classes
    (still). A model blind to frame order scores a clip and its reversal (which the dataset
    holds, under the partner class) alike, so it gets exactly one of the two right: 50%."""
    rev = np.asarray(reverse)[labels]
    own, other = scores[np.arange(len(labels)), labels], scores[np.arange(len(labels)), rev]
    out = np.where(own > other, 1.0, np.where(own < other, 0.0, 0.5))
    return np.where(rev == labels, np.nan, out)


def merged_correct(scores: np.ndarray, labels: np.ndarray, reverse: list[int]) -> np.ndarray:
    """Per clip, 1 if the predicted class is the true one or its time-reversal: top-1 with each
    class merged with its reversal (the motion's kind: still, horizontal pan, vertical pan or
    zoom). All an order-blind model could reach; what is left to 100% needs frame order."""
    rev = np.asarray(reverse)
    merge = np.minimum(np.arange(len(rev)), rev)
    return (merge[scores.argmax(axis=1)] == merge[labels]).astype(float)


def bootstrap_ci(per_seed: np.ndarray, n: int = BOOTSTRAP, rng_seed: int = 0) -> tuple[float, float, float]:
    """Mean and 95% percentile interval of ``per_seed`` (seeds x clips of 0/1 outcomes, NaN for
    clips that do not count): each resample draws seeds with replacement and test clips with
    replacement (the same clips for every seed drawn) and takes the mean outcome."""
    rng = np.random.default_rng(rng_seed)
    x = np.asarray(per_seed, dtype=float)
    x = x[:, ~np.isnan(x).any(axis=0)]
    s, c = x.shape
    if c == 0:
        return float("nan"), float("nan"), float("nan")
    means = np.empty(n)
    for i in range(n):
        means[i] = x[rng.integers(0, s, s)][:, rng.integers(0, c, c)].mean()
    lo, hi = np.percentile(means, [2.5, 97.5])
    return float(100 * x.mean()), float(100 * lo), float(100 * hi)
