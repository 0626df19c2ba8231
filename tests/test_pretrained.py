"""Loading BERT-format directories, on tiny checkpoints written here (milliseconds, no download)."""

import json

import numpy as np
import pytest
import torch
from conftest import make_encoder

from minitransformer.bert_format import export_bert, read_bert_encoder, read_bert_model
from minitransformer.errors import InputError
from minitransformer.sentence import SentenceEncoder
from minitransformer.storage.safetensors_io import SafetensorsError, write_safetensors

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "on", "mat", "##s", "."]
HIDDEN, FF, LAYERS = 8, 16, 4
BERT_CONFIG = {
    "model_type": "bert", "vocab_size": len(VOCAB), "hidden_size": HIDDEN,
    "num_attention_heads": 2, "num_hidden_layers": LAYERS, "intermediate_size": FF,
    "max_position_embeddings": 16, "type_vocab_size": 2, "hidden_act": "gelu",
    "layer_norm_eps": 1e-12, "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
}


def bert_tensors(prefix=""):
    """A random BERT state dict under HF's names, written out here independently of the library."""
    generator = torch.Generator().manual_seed(0)
    shapes = {
        "embeddings.word_embeddings.weight": (len(VOCAB), HIDDEN),
        "embeddings.position_embeddings.weight": (16, HIDDEN),
        "embeddings.token_type_embeddings.weight": (2, HIDDEN),
        "embeddings.LayerNorm.weight": (HIDDEN,), "embeddings.LayerNorm.bias": (HIDDEN,),
        "pooler.dense.weight": (HIDDEN, HIDDEN), "pooler.dense.bias": (HIDDEN,),
    }
    for i in range(LAYERS):
        for name, shape in {
            "attention.self.query.weight": (HIDDEN, HIDDEN), "attention.self.query.bias": (HIDDEN,),
            "attention.self.key.weight": (HIDDEN, HIDDEN), "attention.self.key.bias": (HIDDEN,),
            "attention.self.value.weight": (HIDDEN, HIDDEN), "attention.self.value.bias": (HIDDEN,),
            "attention.output.dense.weight": (HIDDEN, HIDDEN),
            "attention.output.dense.bias": (HIDDEN,),
            "attention.output.LayerNorm.weight": (HIDDEN,),
            "attention.output.LayerNorm.bias": (HIDDEN,),
            "intermediate.dense.weight": (FF, HIDDEN), "intermediate.dense.bias": (FF,),
            "output.dense.weight": (HIDDEN, FF), "output.dense.bias": (HIDDEN,),
            "output.LayerNorm.weight": (HIDDEN,), "output.LayerNorm.bias": (HIDDEN,),
        }.items():
            shapes[f"encoder.layer.{i}.{name}"] = shape
    tensors = {prefix + name: torch.randn(shape, generator=generator)
               for name, shape in shapes.items()}
    tensors[prefix + "embeddings.position_ids"] = torch.arange(16).unsqueeze(0)  # a buffer
    return tensors


def write_checkpoint(directory, tensors, config=BERT_CONFIG):
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps(config))
    (directory / "vocab.txt").write_text("\n".join(VOCAB) + "\n")
    write_safetensors(directory / "model.safetensors", tensors)
    return directory


def test_every_tensor_lands_in_the_right_place(tmp_path):
    tensors = bert_tensors()
    encoder, report = read_bert_encoder(write_checkpoint(tmp_path / "bert", tensors))
    layer = encoder.layers[2]
    pairs = {  # ours -> theirs, spelled out by hand
        encoder.embeddings.token.weight: "embeddings.word_embeddings.weight",
        encoder.embeddings.position.weight: "embeddings.position_embeddings.weight",
        encoder.embeddings.segment.weight: "embeddings.token_type_embeddings.weight",
        encoder.embeddings.norm.bias: "embeddings.LayerNorm.bias",
        layer.attention.query.weight: "encoder.layer.2.attention.self.query.weight",
        layer.attention.key.bias: "encoder.layer.2.attention.self.key.bias",
        layer.attention.value.weight: "encoder.layer.2.attention.self.value.weight",
        layer.attention.output.weight: "encoder.layer.2.attention.output.dense.weight",
        layer.attention_norm.weight: "encoder.layer.2.attention.output.LayerNorm.weight",
        layer.feed_forward.inner.weight: "encoder.layer.2.intermediate.dense.weight",
        layer.feed_forward.outer.bias: "encoder.layer.2.output.dense.bias",
        layer.feed_forward_norm.weight: "encoder.layer.2.output.LayerNorm.weight",
    }
    for parameter, name in pairs.items():
        assert torch.equal(parameter, tensors[name]), name
    assert sorted(report.ignored) == ["embeddings.position_ids", "pooler.dense.bias",
                                      "pooler.dense.weight"]
    assert len(report.loaded) == len(encoder.state_dict())
    config = encoder.config
    assert (config.positional, config.norm_placement, config.activation, config.num_layers) == (
        "learned", "post", "gelu", LAYERS)


def test_prefix_gamma_beta_and_bin_files(tmp_path):
    tensors = {name.replace("LayerNorm.weight", "LayerNorm.gamma")
                   .replace("LayerNorm.bias", "LayerNorm.beta"): value
               for name, value in bert_tensors(prefix="bert.").items()}
    directory = tmp_path / "old"
    directory.mkdir()
    (directory / "config.json").write_text(json.dumps(BERT_CONFIG))
    torch.save(tensors, directory / "pytorch_model.bin")
    encoder, _ = read_bert_encoder(directory)
    torch.testing.assert_close(encoder.embeddings.norm.weight,
                               tensors["bert.embeddings.LayerNorm.gamma"], rtol=0, atol=0)


def test_missing_unexpected_and_wrong_shapes_are_named(tmp_path):
    tensors = bert_tensors()
    del tensors["encoder.layer.1.attention.self.key.bias"]
    tensors["encoder.layer.0.mystery.weight"] = torch.zeros(3)
    tensors["embeddings.word_embeddings.weight"] = torch.zeros(len(VOCAB) + 1, HIDDEN)
    with pytest.raises(ValueError) as error:
        read_bert_encoder(write_checkpoint(tmp_path / "bad", tensors))
    message = str(error.value)
    assert "missing: encoder.layer.1.attention.self.key.bias" in message
    assert "unexpected: encoder.layer.0.mystery.weight" in message
    assert ("shape of embeddings.word_embeddings.weight: checkpoint (13, 8), model (12, 8)"
            in message)


def test_truncated_and_malformed_files_are_refused(tmp_path):
    directory = write_checkpoint(tmp_path / "cut", bert_tensors())
    weights = directory / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-100])
    with pytest.raises(SafetensorsError, match="model.safetensors"):
        read_bert_encoder(directory)
    weights.write_bytes(b"\xff" * 64)
    with pytest.raises(SafetensorsError):
        read_bert_encoder(directory)
    weights.unlink()
    with pytest.raises(InputError, match="neither model.safetensors nor pytorch_model.bin"):
        read_bert_encoder(directory)


def test_layer_selection_keeps_the_named_layers(tmp_path):
    tensors = bert_tensors()
    encoder, report = read_bert_encoder(write_checkpoint(tmp_path / "bert", tensors), layers=[1, 3])
    assert encoder.config.num_layers == 2 and report.skipped_layers == [0, 2]
    assert torch.equal(encoder.layers[0].attention.query.weight,
                       tensors["encoder.layer.1.attention.self.query.weight"])
    assert torch.equal(encoder.layers[1].feed_forward.outer.weight,
                       tensors["encoder.layer.3.output.dense.weight"])
    for bad in ([4], [], [1, 1]):
        with pytest.raises(ValueError, match="layers must"):
            read_bert_encoder(tmp_path / "bert", layers=bad)


def test_sentence_settings_come_from_the_directory(tmp_path):
    directory = write_checkpoint(tmp_path / "bert", bert_tensors())
    (directory / "1_Pooling").mkdir()
    (directory / "1_Pooling" / "config.json").write_text(json.dumps(
        {"pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False}))
    (directory / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 10}))
    model = read_bert_model(directory)
    assert model.pooling_name == "cls" and model.tokenizer.max_length == 10
    assert model.tokenizer.tokenize(["The cats sat."]) == [[2, 5, 6, 10, 7, 11, 3]]


def bert_shaped_model(tokenizer):
    encoder = make_encoder(tokenizer.vocab_size, positional="learned", segment_vocab_size=2)
    return SentenceEncoder(tokenizer, encoder, pooling="mean")


def test_export_then_load_round_trips_bit_exactly(tokenizer, tmp_path):
    model = bert_shaped_model(tokenizer)
    export_bert(model, tmp_path / "exported")
    loaded = read_bert_model(tmp_path / "exported")
    for (name, ours), (_, theirs) in zip(model.encoder.state_dict().items(),
                                         loaded.encoder.state_dict().items()):
        assert torch.equal(ours, theirs), name
    sentences = ["The quick brown fox.", "A small cat sleeps on the warm mat."]
    np.testing.assert_array_equal(loaded.encode(sentences), model.encode(sentences))
    assert loaded.tokenizer.max_length == model.tokenizer.max_length
