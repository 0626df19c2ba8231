import json

import pytest

from minitransformer.model.config import PRESETS, EncoderConfig


def test_presets_have_the_documented_shapes():
    minilm = EncoderConfig.preset("minilm")
    assert (minilm.num_layers, minilm.hidden_size, minilm.num_heads, minilm.ff_size) == (
        6, 384, 12, 1536)
    assert (minilm.positional, minilm.max_length, minilm.segment_vocab_size, minilm.vocab_size) == (
        "learned", 512, 2, 30522)
    base = EncoderConfig.preset("base")
    assert (base.num_layers, base.hidden_size, base.num_heads) == (6, 768, 12)
    assert EncoderConfig().num_layers == 6 and EncoderConfig().activation == "gelu"
    assert set(PRESETS) >= {"tiny", "base", "minilm"}


def test_round_trip_through_json():
    config = EncoderConfig.preset("tiny", norm_placement="pre")
    assert EncoderConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


@pytest.mark.parametrize("overrides, field", [
    (dict(hidden_size=30, num_heads=4), "hidden_size"),
    (dict(num_layers=-1), "num_layers"),
    (dict(vocab_size=0), "vocab_size"),
    (dict(dropout=1.5), "dropout"),
    (dict(positional="rotary"), "positional"),
    (dict(norm_placement="middle"), "norm_placement"),
    (dict(activation="swish"), "activation"),
    (dict(segment_vocab_size=-2), "segment_vocab_size"),
    (dict(pad_id=500), "pad_id"),
])
def test_impossible_values_name_the_field(overrides, field):
    with pytest.raises(ValueError, match=field):
        EncoderConfig.preset("tiny", **overrides)


def test_unknown_keys_and_presets_are_refused():
    with pytest.raises(ValueError, match="hiden_size"):
        EncoderConfig.from_dict({"hiden_size": 32})
    with pytest.raises(ValueError, match="unknown preset 'huge'"):
        EncoderConfig.preset("huge")
