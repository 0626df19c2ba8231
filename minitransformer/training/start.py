"""Where a run starts: the encoder, its tokenizer and any trained heads it brings.

    --init minilm | DIR   a pretrained encoder (MiniLM, a BERT directory, a saved model), or a
                          run / checkpoint / exported run, whose trained heads carry over to
                          tasks of the same name, kind and labels (MT-DNN's second stage)
    --init scratch        random weights and a WordPiece vocabulary trained on the training text

and the encoder whose embeddings --distill-from names (read the same way, distillation.py).

New heads are seeded by (seed, task name) (seeds.py), so a head's initial weights do not
depend on the start or on which other tasks train beside it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch

from ..errors import InputError, about
from ..loading import bert_mlm_head, find_model, load_model, load_model_with_heads
from ..model.config import EncoderConfig
from ..model.encoder import Encoder
from ..model.tokenizer import Tokenizer
from ..storage.formats import LAST
from ..tasks.data import TaskData, TaskSpec
from ..tasks.heads import build_head
from .distributed import DistributedContext
from .options import START
from .run_config import RunConfig
from .seeds import derive_seed

SCRATCH_VOCABULARY = 8000


@dataclass
class Start:
    """The encoder a run starts from, its tokenizer, and where they came from."""

    encoder: Encoder
    tokenizer: Tokenizer
    pooling: str
    description: str  # for people: "the pretrained all-MiniLM-L6-v2", "scratch: small preset ..."
    mlm_head: dict[str, torch.Tensor] | None = None  # a BERT checkpoint's own masked-LM head
    # A training run's heads, by task name: its saved task {"spec", "label_map"}, its weights
    heads: dict[str, tuple[dict, dict[str, torch.Tensor]]] = dataclasses.field(default_factory=dict)


def start_encoder(config: RunConfig, distributed: DistributedContext) -> Start:
    """A pretrained encoder (MiniLM, any model directory) or a new one with a new vocabulary."""
    if config.from_scratch:
        tokenizer = scratch_tokenizer(config, distributed)
        torch.manual_seed(derive_seed(config.options.seed, "scratch weights"))
        encoder_config = EncoderConfig.preset(
            config.preset, vocab_size=tokenizer.vocab_size, norm_placement=config.norm_placement,
            max_length=max(config.max_length, 128))
        return Start(Encoder(encoder_config), tokenizer, "mean", (
            f"from scratch: {config.preset} preset ({encoder_config.num_layers} x "
            f"{encoder_config.hidden_size}, {config.norm_placement}-norm, "
            f"{encoder_config.positional} positions), WordPiece "
            f"vocabulary of {tokenizer.vocab_size} trained on the training text"))
    heads = {}
    with about(f"--init {config.init}"):
        found = find_model(config.init)
        if not found.has_heads:  # MiniLM, a BERT directory, a saved SentenceEncoder
            model = load_model(found.path, "cpu")  # prepare_run moves it to --device
            encoder, tokenizer, pooling = model.encoder, model.tokenizer, model.pooling_name
        else:  # a run, checkpoint or exported run: its trained heads come with it
            model, tokenizer, description = load_model_with_heads(found.path)
            encoder, pooling = model.encoder, model.pooling_name
            heads = {task["spec"]["name"]: (task, model.heads[task["spec"]["name"]].state_dict())
                     for task in description["tasks"]}
    tokenizer.set_max_length(min(config.max_length, tokenizer.max_length))
    name = "the pretrained all-MiniLM-L6-v2" if config.init == "minilm" else config.init
    return Start(encoder, tokenizer, pooling, f"from {name}", bert_mlm_head(config.init), heads)


def carried_head(task: TaskData, saved: dict) -> str | None:
    """None if a run's head saved for `saved` (its task {"spec", "label_map"}) fits `task`;
    else what differs."""
    spec = TaskSpec.from_dict(saved["spec"])
    if spec.kind != task.spec.kind:
        return f"kind {spec.kind}"
    if saved.get("label_map") != task.label_map:
        return "other labels"
    if spec.head_hidden != task.spec.head_hidden:
        return f"head_hidden {spec.head_hidden}"
    return None


def scratch_tokenizer(config: RunConfig, distributed: DistributedContext) -> Tokenizer:
    """A WordPiece vocabulary trained on the training texts, made once per run.

    Training it twice on the same text gives the same vocabulary (Tokenizer.train), but it is
    still made once: a resumed run reads its checkpoint's, which is the one its weights were
    trained with, and under torchrun rank 0 trains it and the other ranks read it from the run
    directory rather than train it again each.
    """
    if config.resume:
        return Tokenizer.load(config.run_dir / LAST, config.max_length)
    shared = config.run_dir / "scratch_tokenizer"
    if distributed.is_main:
        texts = [text for spec in config.tasks for example in spec.read("train")
                 for text in spec.task_kind.texts(example)]
        tokenizer = Tokenizer.train(texts, vocab_size=SCRATCH_VOCABULARY, min_frequency=2,
                                    max_length=config.max_length)
        if distributed.enabled:
            tokenizer.save(shared)
    distributed.barrier()
    if not distributed.is_main:
        tokenizer = Tokenizer.load(shared, config.max_length)
    return tokenizer


def new_head(task: TaskData, encoder_config: EncoderConfig, tokenizer: Tokenizer, seed: int):
    """A task's head, its initial weights fixed by (seed, task name): the same whatever the
    start consumed of the random stream, and whichever other tasks train beside it."""
    torch.manual_seed(derive_seed(seed, "head", task.spec.name))
    return build_head(task.spec.kind, encoder_config, tokenizer, task.label_map,
                      hidden=task.spec.head_hidden)


def distillation_target(name: str, start: Start, pooling: str,
                        label: str = "--distill-from") -> Encoder | None:
    """--distill-from NAME (distillation.py): None for "start" (the trainer copies the start
    itself), else the encoder of the model or run NAME (any name --init takes), checked to read
    the same token ids (the same vocabulary) and to give embeddings that can be compared with
    the run's (the same width and pooling). label: the flag that named it, for errors."""
    if name == START:
        return None
    with about(label):
        target = load_model(name, "cpu")
        problems = []
        tokenizer = start.tokenizer
        if target.tokenizer.backend.get_vocab() != tokenizer.backend.get_vocab():
            problems.append(f"another vocabulary ({target.tokenizer.vocab_size} tokens, the run's "
                            f"{tokenizer.vocab_size})")
        width, ours = target.encoder.config.hidden_size, start.encoder.config.hidden_size
        if width != ours:
            problems.append(f"embeddings {width} wide, the run's {ours}")
        if target.pooling_name != pooling:
            problems.append(f"{target.pooling_name} pooling, the run's {pooling}")
        if problems:
            raise InputError(f"cannot hold the run's embeddings near those of {name}: it has "
                             f"{'; '.join(problems)}")
    return target.encoder
