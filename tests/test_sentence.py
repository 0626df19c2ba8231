import numpy as np
import pytest
import torch
from conftest import CORPUS, make_encoder

from minitransformer.errors import InputError
from minitransformer.loading import load_model
from minitransformer.sentence import SentenceEncoder


@pytest.mark.parametrize("batch_size", [1, 3, 100])
def test_rows_come_back_in_input_order(sentence_encoder, batch_size):
    one_by_one = np.stack([sentence_encoder.encode(s) for s in CORPUS])
    batched = sentence_encoder.encode(CORPUS, batch_size=batch_size)
    assert batched.shape == (len(CORPUS), 32) and batched.dtype == np.float32
    np.testing.assert_allclose(batched, one_by_one, atol=1e-5)


def test_normalisation_is_the_models_unless_asked_for(sentence_encoder):
    """As in sentence-transformers: a model that ends with normalisation (its Normalize module;
    here `normalize`) always gives unit vectors; normalize_embeddings=True adds it to any model."""
    batch = sentence_encoder.tokenizer(CORPUS[:3])
    with torch.no_grad():
        raw = sentence_encoder(batch["input_ids"], batch["attention_mask"])  # (3, d), pooled
    unit = raw / raw.norm(dim=1, keepdim=True)
    # encode runs the packed path (packed.py), the forward above the padded one: the same sums
    # in other shapes, so float32 rounding differs with the kernels and the CPU (6e-8 here);
    # 1e-5, as for every comparison of the two paths (test_packed.py).
    close = dict(atol=1e-5, rtol=0)
    assert sentence_encoder.normalize  # our own models end with it
    for asked in (False, True):
        got = sentence_encoder.encode(CORPUS[:3], normalize_embeddings=asked,
                                      convert_to_tensor=True)
        torch.testing.assert_close(got, unit, **close)
    sentence_encoder.normalize = False  # like a model without a Normalize module
    plain = sentence_encoder.encode(CORPUS[:3], convert_to_tensor=True)
    torch.testing.assert_close(plain, raw, **close)
    asked = sentence_encoder.encode(CORPUS[:3], normalize_embeddings=True, convert_to_tensor=True)
    torch.testing.assert_close(asked, unit, **close)
    assert not torch.allclose(plain, unit, atol=1e-3)  # the tolerance tells the two apart


def test_sentence_transformers_arguments_and_return_types(sentence_encoder):
    tensor = sentence_encoder.encode(CORPUS[:3], normalize_embeddings=False,
                                     show_progress_bar=False, convert_to_tensor=True, device="cpu",
                                     batch_size=2)
    assert (isinstance(tensor, torch.Tensor) and tensor.shape == (3, 32)
            and tensor.device.type == "cpu")
    vectors = sentence_encoder.encode(CORPUS[:3], convert_to_numpy=False)
    assert isinstance(vectors, list) and len(vectors) == 3 and vectors[0].shape == (32,)
    torch.testing.assert_close(torch.stack(vectors), tensor)
    single = sentence_encoder.encode(CORPUS[0], convert_to_numpy=False)
    assert isinstance(single, torch.Tensor) and single.shape == (32,)
    array = sentence_encoder.encode(CORPUS[:3])
    assert isinstance(array, np.ndarray) and array.dtype == np.float32
    # batches of 2 against one of 3: other shapes, other float32 rounding (7e-9 here)
    np.testing.assert_allclose(array, tensor.numpy(), atol=1e-5)
    with pytest.raises(InputError, match="--device|device nowhere: not a device"):
        sentence_encoder.encode(CORPUS[:1], device="nowhere")


def test_encode_restores_training_mode_and_records_no_graph(sentence_encoder):
    sentence_encoder.train()
    out = sentence_encoder.encode(CORPUS[:2], convert_to_tensor=True)
    assert sentence_encoder.training and not out.requires_grad


def test_save_load_gives_identical_outputs(tokenizer, tmp_path):
    model = SentenceEncoder(tokenizer, make_encoder(tokenizer.vocab_size, positional="learned",
                                                    segment_vocab_size=2), pooling="max")
    model.save(tmp_path / "model")
    loaded = load_model(tmp_path / "model")
    assert loaded.pooling_name == "max" and loaded.encoder.config == model.encoder.config
    np.testing.assert_array_equal(loaded.encode(CORPUS), model.encode(CORPUS))


def test_edge_cases(sentence_encoder):
    assert sentence_encoder.encode([]).shape == (0, 32)
    assert sentence_encoder.encode("").shape == (32,)
    very_long = "word " * 1000  # truncated to the tokenizer's max_length (64 here)
    assert np.isfinite(sentence_encoder.encode(very_long)).all()
    with pytest.raises(TypeError, match="item 0 is NoneType"):
        sentence_encoder.encode([None])
    with pytest.raises(ValueError, match="batch_size"):
        sentence_encoder.encode(["a"], batch_size=0)


def test_loading_something_else_is_refused(tmp_path):
    with pytest.raises(InputError, match="no such model directory"):
        load_model(tmp_path / "nothing")
    (tmp_path / "config.json").write_text('{"model_type": "gpt2"}')
    with pytest.raises(ValueError, match="neither a minitransformer model nor a BERT checkpoint"):
        load_model(tmp_path)


def test_the_tokenizer_passed_in_is_left_as_it_is(tokenizer):
    """An encoder with fewer positions than the tokenizer allows gets its own limited copy; the
    caller's tokenizer (here the session's shared one) keeps its limit and its truncation."""
    long_text = ["word " * 100]
    assert tokenizer.max_length == 64 and len(tokenizer.tokenize(long_text)[0]) == 64
    model = SentenceEncoder(tokenizer, make_encoder(tokenizer.vocab_size, max_length=16))
    assert tokenizer.max_length == 64 and len(tokenizer.tokenize(long_text)[0]) == 64
    assert model.tokenizer.max_length == 16 and len(model.tokenizer.tokenize(long_text)[0]) == 16
    assert model.tokenizer.tokenize(["A cat."]) == tokenizer.tokenize(["A cat."])  # same vocabulary
    assert model.encode(long_text).shape == (1, 32)  # fits the 16 positions
    assert SentenceEncoder(tokenizer, make_encoder(tokenizer.vocab_size)).tokenizer is tokenizer


def test_loading_a_model_never_imports_training_code(sentence_encoder, tmp_path):
    # A user who only embeds should not pay for (or depend on) the training machinery: the
    # package and its one loader leave minitransformer.training out, for a saved model and for
    # a training checkpoint alike (a checkpoint is a format like the others).
    import subprocess
    import sys

    from test_trainer import make_trainer, rows_tokenizer, write_task_files

    sentence_encoder.save(tmp_path / "saved")
    make_trainer(rows_tokenizer(), write_task_files(tmp_path), tmp_path / "run", epochs=1).train()
    script = (
        "import sys, minitransformer\n"
        "assert 'minitransformer.training' not in sys.modules, 'import minitransformer'\n"
        f"for path in ({str(tmp_path / 'saved')!r}, {str(tmp_path / 'run')!r}):\n"
        "    model = minitransformer.load_model(path, 'cpu')\n"
        "    assert model.encode('a cat').shape == (32,)\n"
        "    loaded = sorted(m for m in sys.modules if m.startswith('minitransformer.training'))\n"
        "    assert not loaded, (path, loaded)\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
