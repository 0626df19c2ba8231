"""embed.py end to end on a tiny saved model."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import CORPUS

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import embed  # noqa: E402


@pytest.fixture
def model_dir(sentence_encoder, tmp_path):
    sentence_encoder.save(tmp_path / "model")
    return tmp_path / "model"


def test_arguments_and_out(model_dir, tmp_path, capsys, sentence_encoder):
    out = tmp_path / "sub" / "emb.npy"
    assert embed.main(["--model", str(model_dir), "--out", str(out)] + CORPUS[:3]) == 0
    printed = capsys.readouterr().out
    assert "embeddings: shape (3, 32)" in printed and "cosine similarity" in printed
    saved = np.load(out)
    assert saved.dtype == np.float32
    np.testing.assert_allclose(saved, sentence_encoder.encode(CORPUS[:3]), atol=1e-6)
    # Asked again with other sentences, the file is replaced.
    assert embed.main(["--model", str(model_dir), "--out", str(out), "--quiet"] + CORPUS[3:5]) == 0
    np.testing.assert_allclose(np.load(out), sentence_encoder.encode(CORPUS[3:5]), atol=1e-6)


def test_file_skips_blank_lines_and_keeps_order(model_dir, tmp_path, sentence_encoder):
    source = tmp_path / "in.txt"
    source.write_text(f"{CORPUS[4]}\n\n   \n{CORPUS[0]}\n{CORPUS[2]}\n", encoding="utf-8")
    out = tmp_path / "emb.npy"
    assert embed.main(["--model", str(model_dir), "--file", str(source), "--out", str(out),
                       "--batch-size", "2", "--quiet", "--no-normalize"]) == 0
    sentence_encoder.normalize = False  # what --no-normalize does
    expected = sentence_encoder.encode([CORPUS[4], CORPUS[0], CORPUS[2]])
    np.testing.assert_allclose(np.load(out), expected, atol=1e-6)


def test_precision_int8_gives_what_encode_gives(model_dir, tmp_path, capsys, sentence_encoder):
    out = tmp_path / "int8.npy"
    assert embed.main(["--model", str(model_dir), "--precision", "int8", "--out", str(out)]
                      + CORPUS[:3]) == 0
    assert "cpu, int8)" in capsys.readouterr().out
    saved = np.load(out)
    assert saved.dtype == np.float32
    np.testing.assert_allclose(saved, sentence_encoder.encode(CORPUS[:3], precision="int8"),
                               atol=1e-6)
    # float32 paths agree within 1e-6; int8 rounding moves the vectors more than that
    assert np.abs(saved - sentence_encoder.encode(CORPUS[:3])).max() > 1e-5


def test_stdin_in_a_real_process(model_dir, tmp_path):
    out = tmp_path / "emb.npy"
    result = subprocess.run([sys.executable, str(ROOT / "embed.py"), "--model", str(model_dir),
                             "--out", str(out)], input="first one\nsecond one\n", text=True,
                            capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert np.load(out).shape == (2, 32)
    assert "[1]" in result.stdout


# Bad input (missing model, bad flags, bad files) is covered through the real commands in
# test_bad_input.py.


def test_search_prints_the_nearest_sentences_like_brute_force(model_dir, tmp_path, capsys,
                                                                sentence_encoder):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(CORPUS) + "\n", encoding="utf-8")
    saved = tmp_path / "corpus.npy"
    queries = ["A cat on a mat.", "Numbers are tokens."]
    arguments = ["--model", str(model_dir), "--corpus", str(corpus), "--top-k", "3"]
    for query in queries:
        arguments += ["--query", query]
    assert embed.main(arguments + ["--out", str(saved)]) == 0
    printed = capsys.readouterr().out
    # Reusing the saved corpus embeddings prints the same.
    assert embed.main(arguments + ["--corpus-embeddings", str(saved)]) == 0
    again = capsys.readouterr().out
    assert again.split("query:", 1)[1] == printed.split("query:", 1)[1].split("\nsaved ")[0]

    vectors = sentence_encoder.encode(CORPUS)  # unit rows: the dot product is the cosine
    for query, block in zip(queries, printed.split("query: ")[1:]):
        lines = [line.split() for line in block.strip().splitlines()[1:4]]
        got = [(int(words[2].strip("[]")), float(words[1])) for words in lines]
        scores = vectors @ sentence_encoder.encode(query)
        expected = sorted(range(len(CORPUS)), key=lambda j: (-scores[j], j))[:3]
        assert [index for index, _ in got] == expected
        np.testing.assert_allclose([score for _, score in got], scores[expected], atol=1e-4)
        assert all(CORPUS[index][:40] in block for index in expected)
