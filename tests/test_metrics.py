"""Tests for minitransformer.tasks.metrics against hand-computed values (arithmetic in the
comments)."""
import numpy as np
import pytest

from minitransformer.tasks.metrics import (
    accuracy,
    bio_spans,
    entity_f1,
    macro_f1,
    masked_accuracy,
    masked_lm_loss,
    pearson,
    perplexity,
    rankdata,
    spearman,
)

# ---------------------------------------------------------------- classification

def test_accuracy_hand_computed():
    # correct at positions 0, 1, 3 -> 3 / 5
    assert accuracy([0, 1, 1, 2, 0], [0, 1, 2, 2, 1]) == pytest.approx(0.6)
    assert accuracy(np.array(["a", "b"]), ["a", "b"]) == 1.0


def test_metrics_return_python_floats():
    assert type(accuracy([1, 0], [1, 1])) is float
    assert type(macro_f1([1, 0], [1, 1])) is float
    assert type(entity_f1([["B-PER"]], [["B-PER"]])) is float
    assert type(pearson([1, 2, 3], [1, 3, 2])) is float
    assert type(spearman([1, 2, 3], [1, 3, 2])) is float


LABELS = ["a", "a", "b", "b", "c"]
PREDS = ["a", "b", "b", "b", "a"]  # "c" is never predicted


def test_macro_f1_with_a_class_never_predicted():
    # F1 = 2tp / (2tp + fp + fn) per class:
    #   a: tp=1 (pos 0), fp=1 (pos 4), fn=1 (pos 1) -> 2 / 4 = 0.5
    #   b: tp=2 (pos 2, 3), fp=1 (pos 1), fn=0      -> 4 / 5 = 0.8
    #   c: tp=0, fp=0, fn=1 (pos 4)                 -> 0
    # macro = (0.5 + 0.8 + 0) / 3 = 1.3 / 3
    assert macro_f1(PREDS, LABELS) == pytest.approx(1.3 / 3)


def test_macro_f1_labels_set():
    # "d" never occurs (no true, no predicted items) so it is excluded: same 1.3 / 3
    assert macro_f1(PREDS, LABELS, labels_set=["a", "b", "c", "d"]) == pytest.approx(1.3 / 3)
    # only a and b: (0.5 + 0.8) / 2 = 0.65
    assert macro_f1(PREDS, LABELS, labels_set=["a", "b"]) == pytest.approx(0.65)


def test_macro_f1_counts_a_class_that_is_only_predicted():
    # class 0: tp=1, fp=0, fn=1 -> 2 / 3;  class 1: tp=0, fp=1 -> 0;  macro = (2/3 + 0) / 2 = 1/3
    assert macro_f1([0, 1], [0, 0]) == pytest.approx(1 / 3)
    assert macro_f1([2, 0, 1], [2, 0, 1]) == 1.0


# ---------------------------------------------------------------- BIO tagging

def test_bio_spans_basic_and_entity_at_sentence_end():
    assert bio_spans(["B-PER", "I-PER", "O", "B-LOC"]) == {("PER", 0, 2), ("LOC", 3, 4)}
    assert bio_spans(["O", "B-ORG", "I-ORG", "I-ORG"]) == {("ORG", 1, 4)}
    assert bio_spans(["O", "O"]) == set()
    assert bio_spans([]) == set()


def test_bio_spans_adjacent_b_tags_are_separate_entities():
    assert bio_spans(["B-PER", "B-PER", "I-PER"]) == {("PER", 0, 1), ("PER", 1, 3)}


def test_bio_spans_broken_i_sequences_start_new_entities():
    # I- after O starts an entity (conlleval)
    assert bio_spans(["O", "I-PER", "I-PER", "O"]) == {("PER", 1, 3)}
    # I- at the very start of the sentence
    assert bio_spans(["I-ORG", "O"]) == {("ORG", 0, 1)}
    # I-LOC after B-PER closes the PER entity and starts a LOC one
    assert bio_spans(["B-PER", "I-LOC", "I-LOC"]) == {("PER", 0, 1), ("LOC", 1, 3)}


def test_bio_spans_rejects_malformed_tags():
    for bad in (["X-PER"], ["B"], ["B-"], ["PER"]):
        with pytest.raises(ValueError, match="not O, B-X or I-X"):
            bio_spans(bad)


def test_entity_f1_wrong_type_wrong_boundary_multiple_sentences():
    gold = [["B-PER", "I-PER", "O", "B-LOC"],          # PER(0,2) LOC(3,4)
            ["B-ORG", "I-ORG", "I-ORG", "O", "B-PER"]]  # ORG(0,3) PER(4,5)
    pred = [["B-PER", "I-PER", "O", "B-ORG"],          # PER(0,2) correct, ORG(3,4) wrong type
            ["B-ORG", "I-ORG", "O", "B-MISC", "B-PER"]]  # ORG(0,2) wrong boundary, MISC(3,4)
    #                                                      spurious, PER(4,5) correct at the end
    # correct = 2, predicted = 5, gold = 4 -> P = 2/5 = 0.4, R = 2/4 = 0.5
    # F1 = 2 * 0.4 * 0.5 / (0.4 + 0.5) = 0.4 / 0.9 = 4/9
    assert entity_f1(pred, gold) == pytest.approx(4 / 9)
    assert entity_f1(gold, gold) == 1.0


def test_entity_f1_keeps_sentences_apart():
    # the same span PER(0,1) but in different sentences: nothing correct
    gold = [["B-PER", "O"], ["O", "O"]]
    pred = [["O", "O"], ["B-PER", "O"]]
    assert entity_f1(pred, gold) == 0.0


def test_entity_f1_broken_i_matches_the_b_version():
    # "I-PER I-PER" is read as PER(0,2), the same entity as "B-PER I-PER"
    assert entity_f1([["I-PER", "I-PER"]], [["B-PER", "I-PER"]]) == 1.0


def test_entity_f1_no_entities_is_zero_like_conlleval():
    assert entity_f1([["O", "O"]], [["O", "O"]]) == 0.0     # P = R = 0 by convention
    assert entity_f1([["O", "O"]], [["B-PER", "O"]]) == 0.0  # nothing predicted: P = 0, R = 0
    assert entity_f1([["B-PER", "O"]], [["O", "O"]]) == 0.0  # nothing gold: P = 0, R = 0


def test_entity_f1_errors():
    with pytest.raises(ValueError, match="1 predicted sentences vs 2 gold"):
        entity_f1([["O"]], [["O"], ["O"]])
    with pytest.raises(ValueError, match="sentence 1 has 1 predicted tags vs 2 gold"):
        entity_f1([["O"], ["O"]], [["O"], ["O", "O"]])
    with pytest.raises(ValueError, match="empty"):
        entity_f1([], [])


# ---------------------------------------------------------------- correlation

def test_rankdata_with_ties():
    # sorted: 5 -> rank 1; the two 10s share ranks 2, 3 -> 2.5; the three 20s share 4, 5, 6 -> 5
    expected = [2.5, 5.0, 5.0, 1.0, 5.0, 2.5]
    np.testing.assert_array_equal(rankdata([10, 20, 20, 5, 20, 10]), expected)
    np.testing.assert_array_equal(rankdata([3.5, -1.0, 2.0]), [3.0, 1.0, 2.0])
    np.testing.assert_array_equal(rankdata([7, 7, 7]), [2.0, 2.0, 2.0])  # ranks 1, 2, 3 -> 2
    np.testing.assert_array_equal(rankdata([4]), [1.0])


def test_pearson_hand_computed_and_vs_numpy():
    # x = [0, 1, 2], y = [0, 1, 5]: dx = [-1, 0, 1], dy = [-2, -1, 3] (mean y = 2)
    # sum dx*dy = 2 + 0 + 3 = 5; sum dx^2 = 2; sum dy^2 = 14 -> r = 5 / sqrt(28)
    assert pearson([0, 1, 2], [0, 1, 5]) == pytest.approx(5 / np.sqrt(28))
    assert pearson([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=50)
    y = 0.5 * x + rng.normal(size=50)
    assert pearson(x, y) == pytest.approx(np.corrcoef(x, y)[0, 1], abs=1e-12)


def test_spearman_with_ties_hand_computed():
    # ranks x = [1, 2.5, 2.5, 4], ranks y = [1, 3, 2, 4], both with mean 2.5
    # dx = [-1.5, 0, 0, 1.5], dy = [-1.5, 0.5, -0.5, 1.5]
    # sum dx*dy = 2.25 + 2.25 = 4.5; sum dx^2 = 4.5; sum dy^2 = 2.25 + 0.25 + 0.25 + 2.25 = 5
    # r = 4.5 / sqrt(4.5 * 5) = sqrt(0.9)
    assert spearman([1, 2, 2, 3], [1, 3, 2, 4]) == pytest.approx(np.sqrt(0.9))


def test_spearman_of_monotonic_nonlinear_relation_is_one():
    x = np.linspace(0.1, 5.0, 40)
    assert spearman(x, np.exp(x)) == pytest.approx(1.0)
    assert spearman(x, -(x ** 3)) == pytest.approx(-1.0)
    assert pearson(x, np.exp(x)) < 0.95  # Pearson sees the curvature; Spearman does not


def test_against_scipy_when_installed():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(1)
    x = np.round(rng.normal(size=60), 1)  # rounding creates ties
    y = np.round(x + rng.normal(size=60), 1)
    np.testing.assert_allclose(rankdata(x), stats.rankdata(x))
    assert spearman(x, y) == pytest.approx(stats.spearmanr(x, y)[0], abs=1e-12)
    assert pearson(x, y) == pytest.approx(stats.pearsonr(x, y)[0], abs=1e-12)


# ---------------------------------------------------------------- input validation

@pytest.mark.parametrize("metric", [accuracy, macro_f1, pearson, spearman])
def test_length_mismatch_and_empty_input(metric):
    with pytest.raises(ValueError, match="length mismatch, 3 vs 2"):
        metric([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="empty input"):
        metric([], [])


def test_rankdata_rejects_empty_and_nan():
    with pytest.raises(ValueError, match="non-empty 1-D"):
        rankdata([])
    with pytest.raises(ValueError, match="NaN"):
        rankdata([1.0, float("nan")])


@pytest.mark.parametrize("metric", [pearson, spearman])
def test_constant_input_is_undefined(metric):
    # A constant side has standard deviation 0: the correlation is 0 / 0, reported as None.
    assert metric([0.1, 0.1, 0.1], [1, 2, 3]) is None  # the mean of three 0.1s is not 0.1
    assert metric([1, 2, 3], [5, 5, 5]) is None
    assert metric([4.0], [2.5]) is None  # a single pair: both sides constant
    assert metric([1.0, 1.0], [2.0, 2.0]) is None
    # Two different values are enough to be defined: two points always lie on a line.
    assert metric([1.0, 2.0], [5.0, 3.0]) == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="NaN"):  # NaN stays an error, constant or not
        metric([1.0, float("nan")], [2.0, 2.0])


# ---------------------------------------------------------------- masked-language modelling

def test_masked_metrics_hand_computed():
    # Two masked pieces: the first predicted right with p(gold) = 1/2, the second wrong with
    # p(gold) = 1/4. Accuracy 1/2; loss = -(ln 1/2 + ln 1/4) / 2 = (ln 2 + 2 ln 2) / 2 = 1.5 ln 2;
    # perplexity = exp(1.5 ln 2) = 2 ** 1.5.
    predictions = [(5, np.log(0.5)), (7, np.log(0.25))]
    gold = [5, 6]
    assert masked_accuracy(predictions, gold) == 0.5
    assert masked_lm_loss(predictions, gold) == pytest.approx(1.5 * np.log(2))
    assert perplexity(predictions, gold) == pytest.approx(2 ** 1.5)
    assert type(perplexity(predictions, gold)) is float
    with pytest.raises(ValueError, match="length mismatch, 2 vs 1"):
        masked_accuracy(predictions, [5])
    with pytest.raises(ValueError, match="no masked pieces"):
        masked_lm_loss([], [])


def test_macro_f1_with_no_occurring_class():
    with pytest.raises(ValueError, match="none of the classes"):
        macro_f1([0, 1], [0, 1], labels_set=["z"])
