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


def test_file_skips_blank_lines_and_keeps_order(model_dir, tmp_path, sentence_encoder):
    source = tmp_path / "in.txt"
    source.write_text(f"{CORPUS[4]}\n\n   \n{CORPUS[0]}\n{CORPUS[2]}\n", encoding="utf-8")
    out = tmp_path / "emb.npy"
    assert embed.main(["--model", str(model_dir), "--file", str(source), "--out", str(out),
                       "--batch-size", "2", "--quiet", "--no-normalize"]) == 0
    expected = sentence_encoder.encode([CORPUS[4], CORPUS[0], CORPUS[2]], normalize=False)
    np.testing.assert_allclose(np.load(out), expected, atol=1e-6)


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
