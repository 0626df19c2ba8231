"""One or two sentences walked through a model, every stage printed with its shape and a few values.

    python -m minitransformer.inspect --model minilm "The cat sat on the mat."
    python -m minitransformer.inspect --model minilm "A cat sleeps." "A kitten naps." \
        --attention-png attention.png --layers 1,6 --heads 1-4

The stages are those of Encoder.trace (the hand-written attention, the path that returns its
weights): word pieces and ids, token + position (+ segment) embeddings, each layer's attention
weights (B, h, T, T) and output (B, T, d), the pooled sentence vector and its normalised form;
with two sentences, their cosine. Layers and heads are counted from 1, as in `--freeze layers:K`.
Any model that embed.py loads works, a train.py run too.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from .cli import CommandParser, add_device_flag, check_writable, main_of, pyplot, save_figure
from .devices import pick_device
from .encoder import EncoderTrace
from .errors import InputError
from .loading import load_sentence_encoder
from .sentence import SentenceEncoder

PICTURE_FORMATS = (".png", ".svg", ".pdf")


@dataclass
class SentenceTrace:
    pieces: list[list[str]]  # the word pieces of each sentence, [CLS] and [SEP] included
    input_ids: torch.Tensor  # (B, T)
    attention_mask: torch.Tensor  # (B, T), 1 = token, 0 = padding
    encoder: EncoderTrace  # embeddings, attention and output of every layer, final states
    pooled: torch.Tensor  # (B, d), before normalisation
    normalized: torch.Tensor  # (B, d), unit length


def trace_sentences(model: SentenceEncoder, sentences: list[str]) -> SentenceTrace:
    """Run `sentences` (one batch, padded to the longest) through `model`, keeping every stage."""
    ids = model.tokenizer.tokenize(sentences)
    batch = model.tokenizer.pad(ids)
    model.eval()
    with torch.inference_mode():
        device = next(model.parameters()).device
        encoder_trace = model.encoder.trace(batch["input_ids"].to(device),
                                            batch["attention_mask"].to(device)).to("cpu")
        pooled = model.pool(encoder_trace.states, batch["attention_mask"])  # (B, d)
    pieces = [[model.tokenizer.backend.id_to_token(i) for i in row] for row in ids]
    return SentenceTrace(pieces, batch["input_ids"], batch["attention_mask"], encoder_trace,
                         pooled, F.normalize(pooled, dim=-1))


def shape(tensor: torch.Tensor) -> str:
    return str(tuple(tensor.shape))


def values(vector: torch.Tensor, count: int = 4) -> str:
    return "[" + ", ".join(f"{value:+.4f}" for value in vector[:count].tolist()) + ", ...]"


def piece_names(pieces: list[str]) -> list[str]:
    """Each piece as a reader can find it: a piece that occurs more than once in the sentence
    gets its position, 'the(1)' and 'the(5)', so that a link between them is unambiguous."""
    return [f"{piece}({position})" if pieces.count(piece) > 1 else piece
            for position, piece in enumerate(pieces)]


def attention_summary(weights: torch.Tensor, pieces: list[str], count: int = 6) -> tuple[float, str]:
    """(share of the weight on [CLS] and [SEP], 'the(1)->cat 0.41, ...'), averaged over heads,
    for one sentence's weights (h, T, T): most heads park much of their weight on the special
    tokens, so the word-to-word links are shown among the word pieces alone, for the first
    `count` of them. Repeated pieces are named with their position (`piece_names`)."""
    length = len(pieces)
    names = piece_names(pieces)
    mean = weights[:, :length, :length].mean(dim=0)  # (T, T)
    special = float(mean[:, [0, length - 1]].sum(dim=-1).mean())
    if length == 2:  # [CLS] [SEP]: the text had no word pieces
        return special, "none (no word pieces)"
    words = mean[1:-1, 1:-1]  # between word pieces only
    best = words.max(dim=-1)
    links = ", ".join(f"{names[q + 1]}->{names[k + 1]} {w:.2f}" for q, (w, k) in
                      enumerate(zip(best.values.tolist(), best.indices.tolist())) if q < count)
    return special, links


def describe(model: SentenceEncoder, trace: SentenceTrace) -> list[str]:
    """The printed walk through the stages."""
    config, embeddings = model.encoder.config, model.encoder.embeddings
    ids, mask = trace.input_ids, trace.attention_mask
    lines = [f"model: {config.num_layers} layers, width d = {config.hidden_size}, "
             f"{config.num_heads} heads of {config.head_size}, {config.norm_placement}-norm, "
             f"{config.positional} positions, {model.pooling_name} pooling", "",
             f"1. word pieces (tokenizer.py): {len(trace.pieces)} sentence(s), padded to "
             f"T = {ids.shape[1]}"]
    for index, pieces in enumerate(trace.pieces):
        lines.append(f"   [{index}] {' '.join(pieces)}")
    lines += [f"   input_ids {shape(ids)}: " + " / ".join(" ".join(map(str, row)) for row in ids.tolist()),
              f"   attention_mask {shape(mask)}: " + " / ".join("".join(map(str, row)) for row in mask.tolist()),
              "", "2. embeddings (encoder.py, Embeddings): the vector of each piece, where it is,"
              " and which segment"]
    with torch.inference_mode():
        token = embeddings.token(ids) * embeddings.scale  # (B, T, d)
        position = embeddings.position(ids.shape)  # (1, T, d)
        lines.append(f"   token embeddings      {shape(token):<14}{trace.pieces[0][0]}: "
                     f"{values(token[0, 0])}")
        lines.append(f"   position embeddings   {shape(position):<14}position 0: "
                     f"{values(position[0, 0])}")
        if embeddings.segment is not None:
            segment = embeddings.segment.weight[0]  # (d,)
            lines.append(f"   segment embedding     {shape(segment):<14}segment 0: {values(segment)}")
    first = trace.encoder.embeddings
    lines += [f"   sum -> LayerNorm      {shape(first):<14}{trace.pieces[0][0]}: {values(first[0, 0])}",
              ""]
    for number, (weights, output) in enumerate(zip(trace.encoder.attention,
                                                   trace.encoder.layer_outputs), start=1):
        special, links = attention_summary(weights[0], trace.pieces[0])
        lines += [f"{2 + number}. layer {number} of {config.num_layers} (encoder.py, EncoderLayer)",
                  f"   attention weights {shape(weights)}: each row sums to 1 over the keys; "
                  f"padded keys get 0",
                  f"   sentence 0, mean of heads: {special:.2f} of each piece's weight on [CLS] "
                  f"and [SEP]; strongest links between words: {links}",
                  f"   output {shape(output)}  {trace.pieces[0][0]}: {values(output[0, 0])}"]
    step = 3 + config.num_layers
    if model.encoder.final_norm is not None:
        lines.append(f"{step}. final LayerNorm (pre-norm) {shape(trace.encoder.states)}")
        step += 1
    norms = trace.pooled.norm(dim=-1).tolist()
    lines += ["", f"{step}. {model.pooling_name} pooling (pooling.py) over the real pieces -> "
                  f"sentence vectors {shape(trace.pooled)}"]
    for index, vector in enumerate(trace.pooled):
        lines.append(f"   [{index}] {values(vector)}  norm {norms[index]:.4f}")
    lines.append(f"   normalised to unit length {shape(trace.normalized)}: norms "
                 + ", ".join(f"{n:.4f}" for n in trace.normalized.norm(dim=-1).tolist()))
    if len(trace.pieces) == 2:
        cosine = float(trace.normalized[0] @ trace.normalized[1])
        lines += ["", f"cosine of sentences 0 and 1: {cosine:.4f}"]
    return lines


def parse_numbers(text: str, highest: int, what: str) -> list[int]:
    """'1,3' or '2-4' or 'all' -> 0-based indices; counted from 1 on the command line."""
    if text == "all":
        return list(range(highest))
    numbers = []
    for part in text.split(","):
        low, _, high = part.partition("-")
        if not low.strip().isdigit() or (high and not high.strip().isdigit()):
            raise InputError(f"--{what}: takes numbers like 1,3 or 2-4 or all, got {text!r}")
        numbers += range(int(low), int(high or low) + 1)
    if any(not 1 <= n <= highest for n in numbers):
        raise InputError(f"--{what}: the model has {what} 1 to {highest}, got {text!r}")
    return [n - 1 for n in numbers]


def draw_attention(trace: SentenceTrace, layers: list[int], heads: list[int], out: Path,
                   sentence: int = 0) -> None:
    """A grid of heatmaps, a row per layer and a column per head, of one sentence's weights."""
    plt = pyplot("--attention-png")

    pieces = trace.pieces[sentence]
    length = len(pieces)
    size = max(2.2, 0.28 * length)
    figure, grid = plt.subplots(len(layers), len(heads), squeeze=False,
                                figsize=(size * len(heads), size * len(layers)))
    for row, layer in enumerate(layers):
        for column, head in enumerate(heads):
            axes = grid[row][column]
            weights = trace.encoder.attention[layer][sentence, head, :length, :length]  # (T, T)
            axes.imshow(weights.numpy(), cmap="viridis", vmin=0.0, vmax=1.0)
            axes.set_title(f"layer {layer + 1}, head {head + 1}", fontsize=9)
            axes.set_xticks(range(length), pieces, rotation=90, fontsize=7)
            axes.set_yticks(range(length), pieces, fontsize=7)
    figure.supxlabel("key (attended to)")
    figure.supylabel("query (attending)")
    save_figure(figure, out)


@main_of
def main(argv=None) -> int:
    parser = CommandParser(
        prog="python -m minitransformer.inspect",
        description="Walk one or two sentences through a model and print every stage with its "
                    "tensor shape and a few values; optionally draw the attention weights.")
    parser.add_argument("sentences", nargs="+", help="one or two sentences (quote each)")
    parser.add_argument("--model", default="minilm",
                        help="'minilm', a train.py run, a saved model or a BERT-format "
                             "directory (default: %(default)s)")
    parser.add_argument("--attention-png", type=Path, metavar="OUT.png",
                        help="draw the first sentence's attention weights as a grid of heatmaps")
    parser.add_argument("--layers", default=None, metavar="1,6",
                        help="layers to draw (default: the first and the last)")
    parser.add_argument("--heads", default="1-4", metavar="1-4",
                        help="heads to draw, or 'all' (default: %(default)s)")
    add_device_flag(parser)
    args = parser.parse_args(argv)
    if args.attention_png is not None:
        check_writable(args.attention_png, "--attention-png")
    if len(args.sentences) > 2:
        parser.error(f"give one or two sentences, got {len(args.sentences)}")
    if any(not sentence.strip() for sentence in args.sentences):
        parser.error("a sentence is empty")
    if args.attention_png is not None and args.attention_png.suffix.lower() not in PICTURE_FORMATS:
        parser.error(f"argument --attention-png: must end in {', '.join(PICTURE_FORMATS)}")
    model = load_sentence_encoder(args.model, pick_device(args.device, "--device"))
    config = model.encoder.config
    layers = parse_numbers(args.layers or f"1,{config.num_layers}", config.num_layers, "layers")
    heads = parse_numbers(args.heads, config.num_heads, "heads")
    for number, ids in enumerate(model.tokenizer.tokenize(args.sentences), start=1):
        if len(ids) == 2:  # [CLS] [SEP]: normalisation removed every character
            raise InputError(f"sentence {number}: no word pieces in "
                             f"{args.sentences[number - 1]!r:.60} (only characters the tokenizer "
                             f"removes, such as zero-width spaces or control characters)")
    trace = trace_sentences(model, args.sentences)
    print("\n".join(describe(model, trace)))
    if args.attention_png is not None:
        draw_attention(trace, sorted(set(layers)), sorted(set(heads)), args.attention_png)
        print(f"\nwrote {args.attention_png}: layers {', '.join(str(i + 1) for i in sorted(set(layers)))}"
              f" x heads {', '.join(str(i + 1) for i in sorted(set(heads)))} of sentence 0")
    return 0


if __name__ == "__main__":
    sys.exit(main())
