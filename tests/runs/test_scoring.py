"""One way to score: every record's metrics come from its scores file through
benchmark.metrics (mmaction2's functional metrics), single runs and ensembles alike."""
import numpy as np
import pytest
from mmaction.evaluation import functional as mmf

from benchmark.runs.metrics import load_scores, mean_average_precision, metrics_from_scores, scores_file_metrics
from benchmark.runs.records import read_record
from benchmark.runs.tables import table_runs


@pytest.fixture(scope="module")
def smoke(smoke_home):
    """The records of the smoke table's two tiny models and their ensemble, trained and tested by
    the real run code (the session's smoke_home: trained once for every test that reads runs)."""
    specs = table_runs("smoke", str(smoke_home / "data"))
    return {s.row: read_record(smoke_home, s) for s in specs}


def test_a_single_runs_metrics_are_recomputed_from_its_scores_file(smoke):
    for row in ("tiny VidTr", "tiny C-VidTr"):
        rec = smoke[row]
        assert set(rec["metrics"]) == {"top1", "top5", "mean_class"}
        assert scores_file_metrics(rec["scores_file"]) == rec["metrics"]  # exactly: one function, one file
        z = load_scores(rec["scores_file"])
        assert len(z["labels"]) == rec["num_test_videos"] == 6
        # and they are mmaction2's numbers, as its report_accuracy.py computes them
        top1, top5 = mmf.top_k_accuracy(z["scores"], z["labels"], (1, 5))
        assert rec["metrics"]["top1"] == pytest.approx(100 * top1)
        assert rec["metrics"]["top5"] == pytest.approx(100 * top5)
        assert rec["metrics"]["mean_class"] == pytest.approx(100 * mmf.mean_class_accuracy(z["scores"], z["labels"]))


def test_an_ensemble_is_scored_exactly_like_its_members(smoke):
    ens = smoke["tiny ensemble"]
    assert scores_file_metrics(ens["scores_file"]) == ens["metrics"]
    members = [load_scores(smoke[r]["scores_file"]) for r in ("tiny VidTr", "tiny C-VidTr")]
    avg = np.mean([m["scores"] for m in members], axis=0)
    z = load_scores(ens["scores_file"])
    np.testing.assert_array_equal(z["scores"], avg)
    assert metrics_from_scores(avg, members[0]["labels"]) == ens["metrics"]
    assert ens["members"] == {smoke[r]["run_id"]: smoke[r]["metrics"] for r in ("tiny VidTr", "tiny C-VidTr")}


def test_mean_class_counts_a_predicted_class_absent_from_the_labels():
    # labels hold classes 0 and 1; class 2 is predicted once. The old implementation averaged over
    # the labels' classes ((50 + 100) / 2 = 75); mmaction2 averages over labels and predictions,
    # class 2 counting 0: (50 + 100 + 0) / 3 = 50
    scores = np.array([[0.9, 0.05, 0.05], [0.1, 0.1, 0.8], [0.1, 0.8, 0.1], [0.2, 0.7, 0.1]])
    labels = np.array([0, 0, 1, 1])
    m = metrics_from_scores(scores, labels)
    assert m["mean_class"] == pytest.approx(50.0)
    assert m["mean_class"] == pytest.approx(100 * mmf.mean_class_accuracy(scores, labels))
    assert m["top1"] == 75.0 and m["top5"] == 100.0


def test_ap_takes_tied_scores_as_one_threshold():
    # class 0: a positive and a negative tied at 0.5. The old implementation ranked the positive
    # first (stable order) and gave AP 1; mmaction2 (a precision-recall curve) gives 0.5
    scores = np.array([[0.5, 0.9], [0.5, 0.1], [0.2, 0.3]])
    targets = np.array([[1, 1], [0, 0], [0, 0]])
    expected = 100 * (0.5 + 1.0) / 2
    assert metrics_from_scores(scores, targets, multi_label=True) == {"map": pytest.approx(expected)}
    assert mean_average_precision(scores, targets) == pytest.approx(100 * mmf.mean_average_precision(
        list(scores), list(targets)))


def test_a_class_without_positives_is_left_out_of_map():
    scores = np.array([[0.9, 0.2], [0.1, 0.8]])
    targets = np.array([[1, 0], [0, 0]])
    assert metrics_from_scores(scores, targets, multi_label=True)["map"] == pytest.approx(100.0)
