"""Pretrained BERT checkpoints in and out of our own modules.

A BERT-format directory is what HF `transformers` writes: `config.json` ("model_type": "bert"),
`model.safetensors` (or `pytorch_model.bin`), and `vocab.txt` / `tokenizer.json`;
sentence-transformers adds `1_Pooling/config.json` and `sentence_bert_config.json`.

Loading is data, not code: one explicit table (`bert_name_for`) says which BERT tensor fills
which of our parameters. Before anything is copied, every expected key must be present and
every shape must match; missing and unexpected keys are reported by name.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import torch

from .errors import InputError, about, shown
from .model.config import EncoderConfig
from .model.encoder import Encoder
from .model.tokenizer import Tokenizer
from .sentence import SentenceEncoder
from .storage.atomic import write_json
from .storage.formats import (
    BERT_CONFIG_KEYS,
    BOOLEAN,
    NUMBER,
    TEXT,
    Schema,
    check_schema,
    whole_number,
)
from .storage.pickles import load_plain_pickle
from .storage.safetensors_io import check_finite, read_safetensors, write_safetensors
from .storage.skeleton import build_for_loading, build_skeleton
from .storage.text import read_json

# Our parameter names (left) and BERT's (right). "{i}" is a layer index.
EMBEDDING_NAMES = {
    "embeddings.token.weight": "embeddings.word_embeddings.weight",
    "embeddings.position.weight": "embeddings.position_embeddings.weight",
    "embeddings.segment.weight": "embeddings.token_type_embeddings.weight",
    "embeddings.norm.weight": "embeddings.LayerNorm.weight",
    "embeddings.norm.bias": "embeddings.LayerNorm.bias",
}
LAYER_NAMES = {
    "attention.query": "attention.self.query",
    "attention.key": "attention.self.key",
    "attention.value": "attention.self.value",
    "attention.output": "attention.output.dense",
    "attention_norm": "attention.output.LayerNorm",
    "feed_forward.inner": "intermediate.dense",
    "feed_forward.outer": "output.dense",
    "feed_forward_norm": "output.LayerNorm",
}
# BERT's masked-language-model head (BertForMaskedLM's cls.predictions) and ours
# (heads.MaskedLanguageModelHead). Its decoder weight is the word-embedding table (tied), so
# checkpoints store it once, or twice as the same numbers; its decoder bias is the same tensor
# as cls.predictions.bias.
MLM_HEAD_NAMES = {
    "dense.weight": "cls.predictions.transform.dense.weight",
    "dense.bias": "cls.predictions.transform.dense.bias",
    "norm.weight": "cls.predictions.transform.LayerNorm.weight",
    "norm.bias": "cls.predictions.transform.LayerNorm.bias",
    "bias": "cls.predictions.bias",
}
# Present in BERT checkpoints, not needed by a sentence encoder: skipped, and said so.
IGNORED_PATTERNS = (
    r"embeddings\.position_ids",  # buffers, not weights
    r"embeddings\.token_type_ids",
    r"pooler\..*",  # tanh(dense(h[CLS])), used by BERT's next-sentence objective only
    r"cls\..*",  # masked-LM and next-sentence heads of pretraining checkpoints
)
HF_ACTIVATIONS = {"gelu": "gelu", "gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh",
                  "relu": "relu"}
OUR_ACTIVATIONS = {"gelu": "gelu", "gelu_tanh": "gelu_pytorch_tanh", "relu": "relu"}

# The fields we read from each file of a BERT or sentence-transformers directory, checked where
# the file is read, so that a wrong type is refused naming the file and the field (not one of
# our names for it, nor a traceback from int()). Sizes and ranges: EncoderConfig's own checks.
BERT_CONFIG_SCHEMA: Schema = {
    **{key: whole_number(1) for key in BERT_CONFIG_KEYS},
    "type_vocab_size": whole_number(0), "pad_token_id": whole_number(0),
    "hidden_dropout_prob": NUMBER, "attention_probs_dropout_prob": NUMBER,
    "layer_norm_eps": NUMBER, "hidden_act": TEXT, "position_embedding_type": TEXT,
}
SENTENCE_BERT_SCHEMA: Schema = {"max_seq_length": whole_number(2), "do_lower_case": BOOLEAN}
TOKENIZER_CONFIG_SCHEMA: Schema = {"do_lower_case": BOOLEAN}
POOLING_MODES = {"pooling_mode_mean_tokens": "mean", "pooling_mode_cls_token": "cls",
                 "pooling_mode_max_tokens": "max"}
# sentence-transformers' other modes, which we do not implement: refused when switched on.
OTHER_POOLING_MODES = ("pooling_mode_mean_sqrt_len_tokens", "pooling_mode_weightedmean_tokens",
                       "pooling_mode_lasttoken")
POOLING_SCHEMA: Schema = {"word_embedding_dimension": whole_number(1),
                          **{key: BOOLEAN for key in (*POOLING_MODES, *OTHER_POOLING_MODES)}}
MODULE_SCHEMA: Schema = {"type": TEXT, "path": TEXT, "name": TEXT}


def bert_name_for(our_name: str, source_layers: Sequence[int]) -> str:
    """The BERT tensor name that fills one of our parameters.

    source_layers[i] is the checkpoint layer that becomes our layer i (so [1, 3, 5, 7, 9, 11]
    keeps every second layer of a 12-layer model).
    """
    if our_name in EMBEDDING_NAMES:
        return EMBEDDING_NAMES[our_name]
    match = re.fullmatch(r"layers\.(\d+)\.(.+)\.(weight|bias)", our_name)
    if match is None or match.group(2) not in LAYER_NAMES:
        raise KeyError(f"no BERT name for our parameter {our_name!r}")
    layer, module, kind = int(match.group(1)), match.group(2), match.group(3)
    return f"encoder.layer.{source_layers[layer]}.{LAYER_NAMES[module]}.{kind}"


def normalize_bert_key(key: str) -> str:
    """Accept the variants found in the wild: a `bert.` prefix, and TF-era gamma/beta names."""
    key = key.removeprefix("bert.")
    key = re.sub(r"LayerNorm\.gamma$", "LayerNorm.weight", key)
    return re.sub(r"LayerNorm\.beta$", "LayerNorm.bias", key)


@dataclass
class LoadReport:
    """What happened to each tensor of the checkpoint."""

    loaded: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # pooler, pretraining heads, buffers
    skipped_layers: list[int] = field(default_factory=list)  # layers not picked by source_layers



def config_from_bert(bert: dict, num_layers: int | None = None) -> EncoderConfig:
    """Our EncoderConfig for a BERT config.json: learned positions, segments, post-norm."""
    missing = [key for key in BERT_CONFIG_KEYS if key not in bert]
    if missing:
        raise InputError(f"missing BERT config key(s) {', '.join(missing)}")
    if bert.get("position_embedding_type", "absolute") != "absolute":  # (also a wrong type)
        raise InputError(f"unsupported position_embedding_type {bert['position_embedding_type']!r}")
    activation = bert.get("hidden_act", "gelu")
    if not isinstance(activation, str) or activation not in HF_ACTIVATIONS:
        raise InputError(f"unsupported hidden_act {activation!r}")
    return EncoderConfig(
        vocab_size=bert["vocab_size"], hidden_size=bert["hidden_size"],
        num_heads=bert["num_attention_heads"],
        num_layers=num_layers if num_layers is not None else bert["num_hidden_layers"],
        ff_size=bert["intermediate_size"], max_length=bert["max_position_embeddings"],
        dropout=bert.get("hidden_dropout_prob", 0.1),
        attention_dropout=bert.get("attention_probs_dropout_prob", 0.1),
        positional="learned", norm_placement="post", activation=HF_ACTIVATIONS[activation],
        layer_norm_eps=bert.get("layer_norm_eps", 1e-12),
        segment_vocab_size=bert.get("type_vocab_size", 2),
        pad_id=bert.get("pad_token_id") if bert.get("pad_token_id") is not None else 0,
    )


def read_bert_weights(directory: Path) -> dict[str, torch.Tensor]:
    """The checkpoint's tensors, keys normalised; safetensors preferred, .bin read safely."""
    if (directory / "model.safetensors").is_file():
        tensors = read_safetensors(directory / "model.safetensors")
    elif (directory / "pytorch_model.bin").is_file():
        tensors = read_pickled_weights(directory / "pytorch_model.bin")
    else:
        raise InputError(f"{directory}: holds neither model.safetensors nor pytorch_model.bin")
    check_finite(tensors, directory)
    return {normalize_bert_key(key): value for key, value in tensors.items()}


def read_pickled_weights(path: Path) -> dict[str, torch.Tensor]:
    """A pytorch_model.bin, unpickled safely (storage/pickles.py: tensors and plain containers
    only, so loading never runs code)."""
    tensors = load_plain_pickle(path)
    if not isinstance(tensors, dict) or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in tensors.items()):
        raise InputError(f"{path}: holds no dict of named tensors")
    return tensors


def read_bert_encoder(directory: str | Path, layers: Sequence[int] | None = None):
    """Build our Encoder from a BERT-format directory. Returns (encoder, LoadReport).

    layers: which checkpoint layers to keep, bottom to top (default: all). Loading a 12-layer
    model into 6 layers with layers=[1, 3, 5, 7, 9, 11] keeps every second one; the embeddings
    are always kept.
    """
    directory = Path(directory)
    bert_config = read_json(directory / "config.json")
    # pad_token_id may be null in HF configs (no padding token): ours then pads with id 0.
    check_schema(directory / "config.json", bert_config, BERT_CONFIG_SCHEMA,
                 nullable=("pad_token_id",))
    with about(directory / "config.json"):
        config = config_from_bert(bert_config)
    depth = config.num_layers
    source_layers = list(range(depth)) if layers is None else list(layers)
    if not source_layers or any(not 0 <= i < depth for i in source_layers):
        raise ValueError(f"layers must be indices in [0, {depth}), got {source_layers}")
    if len(set(source_layers)) != len(source_layers):
        raise ValueError(f"layers must not repeat a layer, got {source_layers}")

    kept = dataclasses.replace(config, num_layers=len(source_layers))
    checkpoint = read_bert_weights(directory)
    # Names and shapes are compared on a meta-device skeleton (no memory): a config.json whose
    # sizes disagree with the weights is refused before the encoder is allocated.
    skeleton = build_skeleton(lambda: Encoder(kept))
    wanted = {ours: bert_name_for(ours, source_layers) for ours in skeleton.state_dict()}

    missing = sorted(name for name in wanted.values() if name not in checkpoint)
    unused_layers = {f"encoder.layer.{i}." for i in range(depth)} - {
        f"encoder.layer.{i}." for i in source_layers}
    report = LoadReport(skipped_layers=sorted(set(range(depth)) - set(source_layers)))
    unexpected = []
    for key in checkpoint:
        if key in wanted.values():
            continue
        if any(re.fullmatch(pattern, key) for pattern in IGNORED_PATTERNS) or any(
                key.startswith(prefix) for prefix in unused_layers):
            report.ignored.append(key)
        else:
            unexpected.append(key)
    problems = []
    if missing:
        problems.append("missing: " + ", ".join(missing))
    if unexpected:
        problems.append("unexpected: " + ", ".join(sorted(unexpected)))
    own_state = skeleton.state_dict()
    for ours, theirs in wanted.items():
        if theirs in checkpoint and checkpoint[theirs].shape != own_state[ours].shape:
            problems.append(f"shape of {theirs}: checkpoint {tuple(checkpoint[theirs].shape)}, "
                            f"model {tuple(own_state[ours].shape)}")
    if problems:
        raise InputError(f"cannot load {directory}: " + "; ".join(problems))

    encoder = build_for_loading(lambda: Encoder(kept))  # every entry is copied in below
    with torch.no_grad():
        for ours, parameter in encoder.state_dict(keep_vars=True).items():
            parameter.copy_(checkpoint[wanted[ours]])
            report.loaded.append(wanted[ours])
    return encoder.eval(), report


def read_mlm_head_weights(directory: str | Path) -> dict[str, torch.Tensor] | None:
    """The masked-LM head of a BERT checkpoint, named as in heads.MaskedLanguageModelHead;
    None if the checkpoint has none (a BertModel, or a sentence-transformers export)."""
    directory = Path(directory)
    checkpoint = read_bert_weights(directory)
    if not any(name in checkpoint for name in MLM_HEAD_NAMES.values()):
        return None
    missing = [name for name in MLM_HEAD_NAMES.values() if name not in checkpoint]
    if missing:
        raise InputError(f"{directory}: an incomplete masked-LM head, missing {', '.join(missing)}")
    words = checkpoint["embeddings.word_embeddings.weight"]
    decoder = checkpoint.get("cls.predictions.decoder.weight")
    if decoder is not None and not torch.equal(decoder, words):
        raise InputError(f"{directory}: cls.predictions.decoder.weight differs from the word "
                         "embeddings; our masked-LM head ties the two, so it cannot hold this one")
    return {ours: checkpoint[theirs] for ours, theirs in MLM_HEAD_NAMES.items()}


def read_bert_model(directory: str | Path, layers: Sequence[int] | None = None,
                               pooling: str | None = None) -> SentenceEncoder:
    """A SentenceEncoder from a BERT-format directory, with its sentence-transformers settings
    (pooling from 1_Pooling/config.json, max length from sentence_bert_config.json) when present."""
    directory = Path(directory)
    encoder, _ = read_bert_encoder(directory, layers)
    settings = read_sentence_settings(directory)
    # Never more tokens than the encoder has positions (SentenceEncoder would cut it there too,
    # but the tokenizer is built first, and its backend takes no number above 2**64).
    max_length = min(settings.get("max_length", encoder.config.max_length),
                     encoder.config.max_length)
    if (directory / "tokenizer.json").is_file():
        tokenizer = Tokenizer.from_file(directory / "tokenizer.json", max_length)
    else:
        settings_path = directory / "tokenizer_config.json"
        tokenizer_settings = read_optional_json(settings_path, TOKENIZER_CONFIG_SCHEMA)
        tokenizer = Tokenizer.from_vocab(directory / "vocab.txt",
                                         tokenizer_settings.get("do_lower_case", True), max_length)
    return SentenceEncoder(tokenizer, encoder, pooling=pooling or settings.get("pooling", "mean"),
                           normalize=settings["normalize"])


def read_optional_json(path: Path, schema: Schema, nullable: tuple[str, ...] = ()) -> dict:
    """A JSON object that may be absent ({} then), such as sentence-transformers' settings,
    its fields checked against `schema` (storage/formats.check_schema)."""
    if not path.exists():
        return {}
    values = read_json(path)
    check_schema(path, values, schema, nullable)
    return values


def read_sentence_settings(directory: Path) -> dict:
    """{'pooling': ..., 'max_length': ..., 'normalize': ...} from the sentence-transformers
    files, if any. normalize: modules.json lists a Normalize module (without modules.json,
    sentence-transformers itself builds plain pooling, unnormalised, and so do we)."""
    path = directory / "modules.json"
    modules = read_json(path, kind=list) if path.exists() else []
    for number, module in enumerate(modules, start=1):
        if not isinstance(module, dict):
            raise InputError(f"{shown(str(path))}: module {number} must be a JSON object, got "
                             f"{module!r:.60}")
        check_schema(path, module, MODULE_SCHEMA)
    settings = {"normalize": any(module.get("type", "").endswith("Normalize")
                                 for module in modules)}
    pooling_path = directory / "1_Pooling" / "config.json"
    pooling = read_optional_json(pooling_path, POOLING_SCHEMA)
    unsupported = [key for key in OTHER_POOLING_MODES if pooling.get(key)]
    if unsupported:
        raise InputError(f"{shown(str(pooling_path))}: {', '.join(unsupported)} is not a pooling "
                         f"this project implements ({', '.join(POOLING_MODES.values())} are)")
    modes = [name for key, name in POOLING_MODES.items() if pooling.get(key)]
    if len(modes) > 1:
        raise InputError(f"{shown(str(pooling_path))}: combined pooling modes {modes} are not "
                         f"supported")
    if modes:
        settings["pooling"] = modes[0]
    # null: sentence-transformers' word for no limit of its own (the encoder's positions then).
    sentence_bert = read_optional_json(directory / "sentence_bert_config.json",
                                       SENTENCE_BERT_SCHEMA, nullable=("max_seq_length",))
    if sentence_bert.get("max_seq_length") is not None:
        settings["max_length"] = sentence_bert["max_seq_length"]
    return settings


def export_bert(model: SentenceEncoder, directory: str | Path,
                mlm_head: torch.nn.Module | None = None) -> None:
    """Write `model` as a directory that HF `BertModel.from_pretrained` and sentence-transformers'
    `SentenceTransformer` load as they are: BERT's config.json, model.safetensors and tokenizer
    files, plus modules.json (Transformer, Pooling and, if the model normalises, Normalize),
    1_Pooling/config.json and sentence_bert_config.json.

    A BERT is post-norm with learned positions and segment embeddings. Two of our variants are
    the same function in BERT's shape, and are written so:
    - sinusoidal positions: the fixed table becomes the learned position table, and the sqrt(d)
      by which our Embeddings scales the tokens is multiplied into the token table;
    - no segment embeddings: one segment embedding of zeros (BERT adds segment 0's row).
    A pre-norm encoder is not: refused (InputError). The pooler is not written (we have none):
    HF initialises one and warns; it does not touch `last_hidden_state`. With `mlm_head` (a
    heads.MaskedLanguageModelHead) its weights are written as BERT's cls.predictions.*, so
    BertForMaskedLM.from_pretrained loads it too.
    """
    config = model.encoder.config
    if config.norm_placement != "post":
        raise InputError("a pre-norm encoder (norm_placement 'pre') cannot be exported as a BERT: "
                         "BERT normalises after each residual add (post-norm), and no renaming of "
                         "weights turns one into the other; train with norm_placement 'post' to "
                         "export")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    layers = list(range(config.num_layers))
    state = {name: tensor.detach().cpu() for name, tensor in model.encoder.state_dict().items()}
    embeddings = model.encoder.embeddings
    if config.positional == "sinusoidal":
        state["embeddings.token.weight"] = state["embeddings.token.weight"] * embeddings.scale
        state["embeddings.position.weight"] = embeddings.position.table.detach().cpu().clone()
    if config.segment_vocab_size == 0:
        state["embeddings.segment.weight"] = torch.zeros(1, config.hidden_size)
    tensors = {bert_name_for(name, layers): tensor for name, tensor in state.items()}
    if mlm_head is not None:
        head = {name: tensor.detach().cpu() for name, tensor in mlm_head.state_dict().items()}
        if config.positional == "sinusoidal":
            # The exported token table is ours times sqrt(d), and BERT's decoder is tied to it;
            # dividing the head's LayerNorm output by sqrt(d) keeps the logits what they were.
            head["norm.weight"] = head["norm.weight"] / embeddings.scale
            head["norm.bias"] = head["norm.bias"] / embeddings.scale
        tensors.update({MLM_HEAD_NAMES[name]: tensor for name, tensor in head.items()})
    write_safetensors(directory / "model.safetensors", tensors, metadata={"format": "pt"})
    bert_config = {
        "architectures": ["BertForMaskedLM" if mlm_head is not None else "BertModel"],
        "model_type": "bert",
        "vocab_size": config.vocab_size, "hidden_size": config.hidden_size,
        "num_attention_heads": config.num_heads, "num_hidden_layers": config.num_layers,
        "intermediate_size": config.ff_size, "max_position_embeddings": config.max_length,
        "hidden_dropout_prob": config.dropout,
        "attention_probs_dropout_prob": config.attention_dropout,
        "hidden_act": OUR_ACTIVATIONS[config.activation], "layer_norm_eps": config.layer_norm_eps,
        "type_vocab_size": max(config.segment_vocab_size, 1), "pad_token_id": config.pad_id,
        "position_embedding_type": "absolute", "initializer_range": 0.02,
    }
    write_json(directory / "config.json", bert_config)
    write_tokenizer_files(model, directory)
    write_sentence_transformers_files(model, directory)


def write_tokenizer_files(model: SentenceEncoder, directory: Path) -> None:
    """tokenizer.json and vocab.txt, and the tokenizer_config.json from which HF's AutoTokenizer
    takes the class and lower-casing (without it, BertTokenizerFast assumes lower-casing and
    would rebuild a cased tokenizer's normaliser)."""
    model.tokenizer.save(directory)
    normalizer = json.loads(model.tokenizer.backend.to_str()).get("normalizer") or {}
    write_json(directory / "tokenizer_config.json", {
        "tokenizer_class": "BertTokenizer", "do_lower_case": bool(normalizer.get("lowercase")),
        "model_max_length": model.tokenizer.max_length, "unk_token": "[UNK]", "sep_token": "[SEP]",
        "pad_token": "[PAD]", "cls_token": "[CLS]", "mask_token": "[MASK]",
    })


def write_sentence_transformers_files(model: SentenceEncoder, directory: Path) -> None:
    """The module list and settings with which sentence-transformers rebuilds our pipeline:
    the encoder (Transformer), our pooling (Pooling), and Normalize if the model normalises."""
    modules = [{"idx": 0, "name": "0", "path": "",
                "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling",
                "type": "sentence_transformers.models.Pooling"}]
    if model.normalize:
        modules.append({"idx": 2, "name": "2", "path": "2_Normalize",
                        "type": "sentence_transformers.models.Normalize"})
        (directory / "2_Normalize").mkdir(exist_ok=True)  # Normalize has no settings
    write_json(directory / "modules.json", modules)
    write_json(directory / "sentence_bert_config.json",
               {"max_seq_length": model.tokenizer.max_length, "do_lower_case": False})
    write_json(directory / "1_Pooling" / "config.json", {
        "word_embedding_dimension": model.encoder.config.hidden_size,
        "pooling_mode_cls_token": model.pooling_name == "cls",
        "pooling_mode_mean_tokens": model.pooling_name == "mean",
        "pooling_mode_max_tokens": model.pooling_name == "max",
        "pooling_mode_mean_sqrt_len_tokens": False,
    })
