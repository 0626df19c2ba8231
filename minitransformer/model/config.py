"""The one configuration object of the encoder, and its named presets.

Every size of the model lives here, so that a saved model is fully described by
`config.to_dict()` and can be rebuilt without the arguments of the script that trained it.

Read the fields and the presets first. The checks every config goes through (a config usually
comes from a file) are at the bottom of the file.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from ..errors import InputError, shown


@dataclass
class EncoderConfig:
    """Shape and behaviour of a transformer encoder (defaults: the `base` preset, from scratch).

    Invalid values raise InputError (a ValueError): see `check_config` below.
    """

    vocab_size: int = 30522  # number of token ids the embedding table knows
    hidden_size: int = 768  # d, the width of every token state
    num_heads: int = 12  # attention heads; each sees hidden_size // num_heads dimensions
    num_layers: int = 6  # encoder layers stacked on top of the embeddings
    ff_size: int = 3072  # inner width of the feed-forward block (4 * d in the paper)
    max_length: int = 512  # longest sequence the position table covers, special tokens included
    dropout: float = 0.1  # dropout on embeddings and on each sub-layer's output
    attention_dropout: float = 0.1  # dropout on the attention probabilities
    positional: str = "sinusoidal"  # "sinusoidal" (fixed, Vaswani et al.) or "learned" (BERT)
    norm_placement: str = "post"  # "post": LayerNorm after each residual add (BERT); "pre": before
    activation: str = "gelu"  # feed-forward nonlinearity: "gelu" (exact, erf), "gelu_tanh", "relu"
    layer_norm_eps: float = 1e-12  # added to the variance inside every LayerNorm (BERT uses 1e-12)
    segment_vocab_size: int = 0  # segment (token type) embeddings; 0 = none, BERT uses 2
    pad_id: int = 0  # token id used for padding (its embedding row is not special otherwise)

    def __post_init__(self) -> None:
        check_config(self)

    @property
    def head_size(self) -> int:
        return self.hidden_size // self.num_heads

    def parameter_count(self) -> int:
        """About how many numbers the encoder's weights hold (within 1 % for the presets; the
        sinusoidal table, a buffer, counted like the learned one), from the sizes alone."""
        d, ff = self.hidden_size, self.ff_size
        embeddings = (self.vocab_size + self.max_length + self.segment_vocab_size + 2) * d
        layer = 4 * (d * d + d) + (d * ff + ff) + (ff * d + d) + 4 * d  # attention, FF, 2 norms
        return embeddings + self.num_layers * layer

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "EncoderConfig":
        """Build a config from a dict (e.g. a loaded config.json); unknown keys are an error."""
        check_fields(cls, values)
        return cls(**values)

    @classmethod
    def preset(cls, name: str, **overrides) -> "EncoderConfig":
        """A named preset (see PRESETS), with some fields replaced."""
        if name not in PRESETS:
            raise InputError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
        return cls.from_dict({**PRESETS[name], **overrides})


# Each preset lists only the fields it changes; the rest keep the defaults above.
PRESETS: dict[str, dict] = {
    # Small enough that a forward and backward pass takes milliseconds: for tests.
    "tiny": dict(
        vocab_size=128, hidden_size=32, num_heads=4, num_layers=2, ff_size=64,
        max_length=64, dropout=0.0, attention_dropout=0.0,
    ),
    # A small model to train from scratch on a laptop CPU (the default of `train.py`'s scratch
    # start).
    "small": dict(hidden_size=256, num_heads=4, num_layers=6, ff_size=1024, max_length=256),
    # The size of BERT-base's layers, six of them.
    "base": dict(),
    # The exact shape of all-MiniLM-L6-v2, so that its pretrained weights load into our modules.
    "minilm": dict(
        vocab_size=30522, hidden_size=384, num_heads=12, num_layers=6, ff_size=1536,
        max_length=512, positional="learned", segment_vocab_size=2,
    ),
}


# ---- the checks every config goes through (__post_init__ calls check_config) ----------------

POSITIONAL_KINDS = ("sinusoidal", "learned")
NORM_PLACEMENTS = ("post", "pre")
ACTIVATIONS = ("gelu", "gelu_tanh", "relu")

# Sizes past which a config is refused before anything is built: far above any encoder this
# project trains or loads (BERT-large is 1,024 wide, 24 layers, 30,522 pieces, 512 positions),
# and low enough that a typo or a hostile config.json fails at once instead of filling memory.
MAX_SIZES = {"vocab_size": 1_000_000, "hidden_size": 8192, "num_heads": 256, "num_layers": 128,
             "ff_size": 65_536, "max_length": 65_536, "segment_vocab_size": 1024}
MAX_PARAMETERS = 2_000_000_000  # 8 GB of float32 weights


def check_config(config: EncoderConfig) -> None:
    """Raise InputError, naming the field, for the first value the encoder cannot be built with."""
    for field in dataclasses.fields(config):  # the type of each default: a config is often JSON
        value, wanted = getattr(config, field.name), type(field.default)
        allowed = (int, float) if wanted is float else (wanted,)
        if isinstance(value, bool) or not isinstance(value, allowed):
            raise InputError(f"EncoderConfig.{field.name} must be {wanted.__name__}, got "
                             f"{value!r}")
    positive = ("vocab_size", "hidden_size", "num_heads", "num_layers", "ff_size", "max_length")
    for name in positive:
        value = getattr(config, name)
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise InputError(f"EncoderConfig.{name} must be a positive integer, got {value!r}")
    for name, largest in MAX_SIZES.items():
        if getattr(config, name) > largest:
            raise InputError(f"EncoderConfig.{name} is {getattr(config, name):,}, above the "
                             f"{largest:,} this project builds")
    if config.parameter_count() > MAX_PARAMETERS:
        raise InputError(f"EncoderConfig describes {config.parameter_count():,} parameters "
                         f"({4 * config.parameter_count() / 1e9:.0f} GB in float32), above the "
                         f"{MAX_PARAMETERS:,} this project builds")
    if config.hidden_size % config.num_heads != 0:
        raise InputError(
            f"EncoderConfig.hidden_size ({config.hidden_size}) must be divisible by "
            f"num_heads ({config.num_heads})"
        )
    for name in ("dropout", "attention_dropout"):
        value = getattr(config, name)
        if not 0.0 <= value < 1.0:
            raise InputError(f"EncoderConfig.{name} must be in [0, 1), got {value!r}")
    if not 0 < config.layer_norm_eps < math.inf:
        raise InputError(f"EncoderConfig.layer_norm_eps must be finite and > 0, got "
                         f"{config.layer_norm_eps!r}")
    if not isinstance(config.segment_vocab_size, int) or config.segment_vocab_size < 0:
        raise InputError(
            f"EncoderConfig.segment_vocab_size must be >= 0, got {config.segment_vocab_size!r}"
        )
    if not 0 <= config.pad_id < config.vocab_size:
        raise InputError(f"EncoderConfig.pad_id must be in [0, vocab_size), "
                         f"got {config.pad_id!r}")
    for name, allowed in (
        ("positional", POSITIONAL_KINDS),
        ("norm_placement", NORM_PLACEMENTS),
        ("activation", ACTIVATIONS),
    ):
        if getattr(config, name) not in allowed:
            raise InputError(
                f"EncoderConfig.{name} must be one of {allowed}, got {getattr(config, name)!r}"
            )


def check_fields(cls, values: dict) -> None:
    """Refuse keys that are not fields of the dataclass `cls`, naming them (typos fail loudly)."""
    if not isinstance(values, dict):
        raise InputError(f"{cls.__name__}: expected an object of fields, got a "
                         f"{type(values).__name__}")
    known = {field.name for field in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise InputError(f"unknown {cls.__name__} field(s): {', '.join(map(shown, unknown))}")
