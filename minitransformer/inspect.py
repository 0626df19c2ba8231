"""One or two sentences walked through a model, every stage printed with its shape and a few values.

    python -m minitransformer.inspect --model minilm "The cat sat on the mat."
    python -m minitransformer.inspect --model minilm "A cat sleeps." "A kitten naps." \
        --attention-png attention.png --layers 1,6 --heads all --sentence 2
    python -m minitransformer.inspect --model minilm "The cat sat on the mat." \
        --attention-png cat.png --word cat
    python -m minitransformer.inspect --model minilm "A cat sleeps." "A kitten naps." \
        --html page.html  # the attention explorer: one page that opens from disk (explorer/)

The stages are those of Encoder.trace (the hand-written attention, the path that returns its
weights): word pieces and ids, token + position (+ segment) embeddings, each layer's attention
weights (B, h, T, T) and output (B, T, d), the pooled sentence vector and its normalised form;
with two sentences, their cosine. Sentences, layers and heads are counted from 1, as in
`--freeze layers:K`. Any model that embed.py loads works, a train.py run too.

The pictures: a heatmap per (layer, head), at most HEADS_PER_ROW heads a row, one colour bar
on a square-root scale (small weights told apart), a repeated piece labelled with its position
('the(1)', 'the(5)'), and each head captioned with the pattern measured on its weights
(`attention_pattern`): the share of the attention on [CLS]/[SEP], on the piece itself, on the
previous or the next piece, named when one holds more than half. These are the patterns Clark
et al. (2019, "What Does BERT Look At?") found in BERT's heads; many heads park most of their
weight on [CLS] or [SEP], which they read as a head's way of doing nothing. With --word, one
piece's attention row in every layer instead.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from .cli import (
    CommandParser,
    add_device_flag,
    check_writable,
    main_of,
    pyplot,
    save_figure,
    wrapped,
)
from .devices import pick_device
from .errors import InputError
from .explorer.page import write_page
from .loading import load_model
from .model.encoder import EncoderTrace
from .sentence import SentenceEncoder
from .values import flag_type, parse_int

PICTURE_FORMATS = (".png", ".svg", ".pdf")
HEADS_PER_ROW = 4  # a grid of more heads wraps onto further rows


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


def attention_summary(weights: torch.Tensor, pieces: list[str],
                      count: int = 6) -> tuple[float, str]:
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


# The patterns a head's caption can name, measured on its weights (`attention_pattern`), and
# the share of the attention mass that names one: more than half.
SINK, SELF, PREVIOUS, NEXT, OTHER = ("[CLS]/[SEP] sink", "self", "previous-token", "next-token",
                                     "other")
PATTERNS = (SINK, SELF, PREVIOUS, NEXT)
DOMINANT_SHARE = 0.5


def attention_pattern(weights: torch.Tensor, queries: list[int] | None = None) -> dict[str, float]:
    """How one head spreads its attention, as shares of the mass: {pattern: share}, summing to 1.

    weights: (T, T) over one sentence's real pieces, [CLS] first and [SEP] last; queries: the
    rows to average (default: the word pieces, 1 .. T-2; the special tokens' own rows are left
    out, as they have a neighbour on one side only). Each query's weight is split into disjoint
    parts, the first that applies: on [CLS] or [SEP] (SINK), on itself (SELF), on the piece
    before it (PREVIOUS), on the piece after it (NEXT), anywhere else (OTHER).
    """
    length = weights.shape[-1]
    if queries is None:  # the word pieces; a sentence of no pieces at all: its two tokens
        queries = list(range(1, length - 1)) or list(range(length))
    query = torch.tensor(queries)[:, None]  # (Q, 1)
    key = torch.arange(length)[None, :]  # (1, T)
    sink = (key == 0) | (key == length - 1)  # (1, T)
    parts = {SINK: sink, SELF: (key == query) & ~sink, PREVIOUS: (key == query - 1) & ~sink,
             NEXT: (key == query + 1) & ~sink}  # each (Q, T) or (1, T), disjoint
    rows = weights[queries].float()  # (Q, T)
    shares = {name: float((rows * part).sum(dim=-1).mean()) for name, part in parts.items()}
    shares[OTHER] = max(0.0, float(rows.sum(dim=-1).mean()) - sum(shares.values()))
    return shares


def dominant_pattern(shares: dict[str, float]) -> str | None:
    """The named pattern (not OTHER) that holds more than DOMINANT_SHARE of the mass, or None."""
    name = max(PATTERNS, key=lambda pattern: shares[pattern])
    return name if shares[name] > DOMINANT_SHARE else None


def pattern_caption(shares: dict[str, float]) -> str:
    """'previous-token 0.82', or 'mixed: other 0.45, [CLS]/[SEP] sink 0.31' (the two largest)."""
    name = dominant_pattern(shares)
    if name is not None:
        return f"{name} {shares[name]:.2f}"
    first, second = sorted(shares, key=shares.get, reverse=True)[:2]
    return f"mixed: {first} {shares[first]:.2f}, {second} {shares[second]:.2f}"


def head_patterns(weights: torch.Tensor, length: int) -> str:
    """Each head's dominant pattern, grouped: '[CLS]/[SEP] sink: heads 1, 5; self: head 3;
    mixed: heads 2, 4, 6'; weights: (h, T, T) of one sentence of `length` real pieces."""
    groups: dict[str, list[int]] = {}
    for head in range(weights.shape[0]):
        name = dominant_pattern(attention_pattern(weights[head, :length, :length]))
        groups.setdefault(name or "mixed", []).append(head + 1)
    return "; ".join(f"{name}: head{'s' if len(numbers) > 1 else ''} "
                     f"{', '.join(map(str, numbers))}" for name, numbers in groups.items())


def describe(model: SentenceEncoder, trace: SentenceTrace) -> list[str]:
    """The printed walk through the stages."""
    config, embeddings = model.encoder.config, model.encoder.embeddings
    ids, mask = trace.input_ids, trace.attention_mask
    lines = [f"model: {config.num_layers} layers, width d = {config.hidden_size}, "
             f"{config.num_heads} heads of {config.head_size}, {config.norm_placement}-norm, "
             f"{config.positional} positions, {model.pooling_name} pooling", "",
             f"1. word pieces (tokenizer.py): {len(trace.pieces)} sentence(s), padded to "
             f"T = {ids.shape[1]}"]
    for index, pieces in enumerate(trace.pieces, start=1):
        lines.append(f"   [{index}] {' '.join(pieces)}")
    lines += [f"   input_ids {shape(ids)}: "
              + " / ".join(" ".join(map(str, row)) for row in ids.tolist()),
              f"   attention_mask {shape(mask)}: "
              + " / ".join("".join(map(str, row)) for row in mask.tolist()),
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
            lines.append(f"   segment embedding     {shape(segment):<14}segment 0: "
                         f"{values(segment)}")
    first = trace.encoder.embeddings
    lines += [f"   sum -> LayerNorm      {shape(first):<14}{trace.pieces[0][0]}: "
              f"{values(first[0, 0])}",
              ""]
    for number, (weights, output) in enumerate(zip(trace.encoder.attention,
                                                   trace.encoder.layer_outputs), start=1):
        special, links = attention_summary(weights[0], trace.pieces[0])
        lines += [f"{2 + number}. layer {number} of {config.num_layers} (encoder.py, EncoderLayer)",
                  f"   attention weights {shape(weights)}: each row sums to 1 over the keys; "
                  f"padded keys get 0",
                  f"   sentence 1, mean of heads: {special:.2f} of each piece's weight on [CLS] "
                  f"and [SEP]; strongest links between words: {links}",
                  f"   sentence 1, each head's pattern: "
                  f"{head_patterns(weights[0], len(trace.pieces[0]))}",
                  f"   output {shape(output)}  {trace.pieces[0][0]}: {values(output[0, 0])}"]
    step = 3 + config.num_layers
    if model.encoder.final_norm is not None:
        lines.append(f"{step}. final LayerNorm (pre-norm) {shape(trace.encoder.states)}")
        step += 1
    norms = trace.pooled.norm(dim=-1).tolist()
    lines += ["", f"{step}. {model.pooling_name} pooling (pooling.py) over the real pieces -> "
                  f"sentence vectors {shape(trace.pooled)}"]
    for index, (vector, norm) in enumerate(zip(trace.pooled, norms), start=1):
        lines.append(f"   [{index}] {values(vector)}  norm {norm:.4f}")
    lines.append(f"   normalised to unit length {shape(trace.normalized)}: norms "
                 + ", ".join(f"{n:.4f}" for n in trace.normalized.norm(dim=-1).tolist()))
    if len(trace.pieces) == 2:
        cosine = float(trace.normalized[0] @ trace.normalized[1])
        lines += ["", f"cosine of sentences 1 and 2: {cosine:.4f}"]
    return lines


def number_ranges(text: str, what: str) -> list[tuple[int, int]]:
    """'1,3' -> [(1, 1), (3, 3)]; '2-4' -> [(2, 4)]; 'all' -> []: the numbers of --layers or
    --heads, counted from 1, read (values.parse_int) and checked before the model is loaded; a
    range must run upwards."""
    if text == "all":
        return []
    ranges = []
    for part in text.split(","):
        low, dash, high = part.partition("-")
        try:
            first = parse_int(low, f"--{what}", 1)
            last = parse_int(high, f"--{what}", 1) if dash else first
        except InputError:
            raise InputError(f"--{what}: takes numbers from 1 like 1,3 or 2-4 or all, got "
                             f"{text!r}") from None
        if last < first:
            raise InputError(f"--{what}: the range {part.strip()!r} runs downwards; write "
                             f"{last}-{first}")
        ranges.append((first, last))
    return ranges


def parse_numbers(text: str, highest: int, what: str) -> list[int]:
    """'1,3' or '2-4' or 'all' -> the sorted 0-based indices, each number checked against the
    model's `highest` before any range is expanded (so '1-30000000' builds nothing large)."""
    ranges = number_ranges(text, what)
    if any(last > highest for _, last in ranges):
        raise InputError(f"--{what}: the model has {what} 1 to {highest}, got {text!r}")
    if not ranges:  # all
        return list(range(highest))
    return sorted({n - 1 for first, last in ranges for n in range(first, last + 1)})


def find_piece(pieces: list[str], word: str) -> int:
    """The position of `word` among a sentence's pieces, named as `piece_names` names them (a
    repeated piece with its position: 'the(5)'); an InputError that lists them otherwise."""
    names = piece_names(pieces)
    if word in names:
        return names.index(word)
    if word.lower() in names:  # the uncased models' pieces are lower case
        return names.index(word.lower())
    raise InputError(f"--word {word!r}: not one of the sentence's pieces, which are "
                     f"{' '.join(names)} (a word split into pieces is followed by one of them)")


# The pictures are drawn for a column of about 900 px: WIDTH inches at save_figure's 110 dpi,
# with no text under SMALL points (11 px there). Colour follows the square root of the weight
# (a power norm of exponent ATTENTION_GAMMA): most weights lie between 0 and 0.3, which a
# linear scale draws in one dark colour; the square root gives them half the colour range.
WIDTH = 8.2
SMALL = 7.5
ATTENTION_GAMMA = 0.5
COLOUR_BAR_TICKS = (0.0, 0.01, 0.05, 0.1, 0.2, 0.4, 0.7, 1.0)
PIECE_INCHES = 0.15  # a piece's row or column of a heatmap, room for its label
MARGIN = 1.0  # inches of WIDTH that the colour bar and the outer labels take


def columns_that_fit(panels: int, inches: float) -> int:
    """Panels a row: at most HEADS_PER_ROW, and no more than fit in WIDTH at `inches` each."""
    return max(1, min(HEADS_PER_ROW, panels, int((WIDTH - MARGIN) // inches)))


def grid_of_panels(plt, panels: int, columns: int, height: float, title: str):
    """A figure WIDTH inches wide of `panels` axes, `columns` a row, each row `height` inches;
    the axes past `panels` are hidden. Returns (figure, list of the axes in use)."""
    rows = -(-panels // columns)  # ceiling division
    figure, grid = plt.subplots(rows, columns, squeeze=False, layout="constrained",
                                figsize=(WIDTH, height * rows + 0.9))
    axes = [a for row in grid for a in row]
    for unused in axes[panels:]:
        unused.set_axis_off()
    figure.suptitle(wrapped(title, WIDTH - 0.4, SMALL + 0.5), fontsize=SMALL + 0.5)
    return figure, axes[:panels]


def fitted_caption(caption: str, inches: float) -> str:
    """A head's caption on one line, or, wider than `inches` at SMALL points (a character taken
    as 0.55 of the size wide, as cli.wrapped takes it), broken after its first comma:
    'mixed: other 0.46,\n[CLS]/[SEP] sink 0.25'."""
    if len(caption) * 0.55 * SMALL / 72 <= inches:
        return caption
    return caption.replace(", ", ",\n", 1)


def weight_colours():
    """The colour scale of every heatmap: 0 to 1, square root (see ATTENTION_GAMMA)."""
    from matplotlib.colors import PowerNorm

    return PowerNorm(ATTENTION_GAMMA, vmin=0.0, vmax=1.0)


def add_colour_bar(figure, image, axes: list) -> None:
    bar = figure.colorbar(image, ax=axes, shrink=0.6, pad=0.02,
                          label=f"attention weight (each query row sums to 1);\ncolour: square "
                                f"root (power norm, gamma {ATTENTION_GAMMA:g})")
    bar.set_ticks(COLOUR_BAR_TICKS)
    bar.ax.tick_params(labelsize=SMALL)
    bar.ax.yaxis.label.set_fontsize(SMALL + 0.5)


def draw_attention(trace: SentenceTrace, layers: list[int], heads: list[int], out: Path,
                   sentence: int = 0) -> None:
    """Heatmaps of one sentence's attention weights, one per (layer, head): each layer's heads
    fill rows of at most HEADS_PER_ROW (fewer where a long sentence needs the room). Every
    panel is captioned with the pattern measured on its weights (`pattern_caption`), wrapped to
    the panel's width; one colour bar, as every panel shares the scale (`weight_colours`);
    a repeated piece is labelled with its position (`piece_names`)."""
    plt = pyplot("--attention-png")
    pieces = trace.pieces[sentence]
    names = piece_names(pieces)
    length = len(pieces)
    side = max(1.55, PIECE_INCHES * length)
    columns = columns_that_fit(len(heads), side)
    per_layer = -(-len(heads) // columns) * columns  # panels a layer, its last row padded
    figure, axes = grid_of_panels(
        plt, per_layer * len(layers), columns, side + 0.9,
        f"sentence {sentence + 1}: each query row's attention over the key columns; caption: "
        f"the pattern holding > {DOMINANT_SHARE:.0%} of the word pieces' attention, else 'mixed' "
        f"('other': not [CLS]/[SEP], itself or a neighbour)")
    norm = weight_colours()
    for row, layer in enumerate(layers):
        for column, head in enumerate(heads):
            panel = axes[row * per_layer + column]
            weights = trace.encoder.attention[layer][sentence, head, :length, :length]  # (T, T)
            image = panel.imshow(weights.numpy(), cmap="viridis", norm=norm)
            caption = fitted_caption(pattern_caption(attention_pattern(weights)),
                                     (WIDTH - MARGIN) / columns)
            panel.set_title(f"layer {layer + 1}, head {head + 1}\n{caption}", fontsize=SMALL)
            panel.set_xticks(range(length), names, rotation=90, fontsize=SMALL)
            panel.set_yticks(range(length), names, fontsize=SMALL)
        for column in range(len(heads), per_layer):  # a layer's unused places in its last row
            axes[row * per_layer + column].set_axis_off()
    figure.supxlabel("key (attended to)", fontsize=SMALL + 0.5)
    figure.supylabel("query (attending)", fontsize=SMALL + 0.5)
    add_colour_bar(figure, image, axes)
    save_figure(figure, out)


def draw_word(trace: SentenceTrace, position: int, layers: list[int], heads: list[int],
              out: Path, sentence: int = 0) -> None:
    """One piece followed through the layers: for each head a (layers, T) heatmap whose row l
    is the piece's attention row in layer l; each row is labelled with the pattern of that row
    alone (`attention_pattern` with the one query)."""
    plt = pyplot("--attention-png")
    pieces = trace.pieces[sentence]
    names = piece_names(pieces)
    length = len(pieces)
    columns = columns_that_fit(len(heads), 1.4 + PIECE_INCHES * length)  # + the row labels
    figure, axes = grid_of_panels(
        plt, len(heads), columns, 1.2 + 0.2 * len(layers),
        f"sentence {sentence + 1}: where {names[position]!r} (position {position}) "
        f"attends, layer by layer; row label: the pattern holding > {DOMINANT_SHARE:.0%} of "
        f"its attention, else 'mixed'")
    norm = weight_colours()
    for panel, head in zip(axes, heads):
        rows = torch.stack([trace.encoder.attention[layer][sentence, head, position, :length]
                            for layer in layers])  # (layers, T)
        image = panel.imshow(rows.numpy(), cmap="viridis", norm=norm, aspect="auto")
        labels = []
        for layer in layers:
            weights = trace.encoder.attention[layer][sentence, head, :length, :length]  # (T, T)
            name = dominant_pattern(attention_pattern(weights, [position]))
            labels.append(f"layer {layer + 1}: {name or 'mixed'}")
        panel.set_title(f"head {head + 1}", fontsize=SMALL)
        panel.set_xticks(range(length), names, rotation=90, fontsize=SMALL)
        panel.set_yticks(range(len(layers)), labels, fontsize=SMALL)
    figure.supxlabel("key (attended to)", fontsize=SMALL + 0.5)
    add_colour_bar(figure, image, axes)
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
                        help="draw a sentence's attention weights: a heatmap per layer and "
                             "head, captioned with the pattern measured on it")
    parser.add_argument("--sentence", type=flag_type(parse_int, low=1), default=1, metavar="N",
                        help="which sentence to draw, counted from 1 (default: %(default)s)")
    parser.add_argument("--word", metavar="PIECE",
                        help="draw instead one piece's attention row in every layer (all layers "
                             "unless --layers says); a repeated piece as printed: 'the(5)'")
    parser.add_argument("--layers", default=None, metavar="1,6",
                        help="layers to draw (default: the first and the last)")
    parser.add_argument("--heads", default="1-4", metavar="1-4",
                        help="heads to draw, or 'all' (default: %(default)s)")
    parser.add_argument("--html", type=Path, metavar="PAGE.html",
                        help="write the attention explorer: one page (no server, no network) "
                             "with every layer and head, to point at a piece and see where it "
                             "looks")
    add_device_flag(parser)
    args = parser.parse_args(argv)
    if args.html is not None:
        check_writable(args.html, "--html")
        if args.html.suffix.lower() not in (".html", ".htm"):
            parser.error("argument --html: must end in .html or .htm")
    if args.attention_png is not None:
        check_writable(args.attention_png, "--attention-png")
    if len(args.sentences) > 2:
        parser.error(f"give one or two sentences, got {len(args.sentences)}")
    if any(not sentence.strip() for sentence in args.sentences):
        parser.error("a sentence is empty")
    if args.attention_png is not None and args.attention_png.suffix.lower() not in PICTURE_FORMATS:
        parser.error(f"argument --attention-png: must end in {', '.join(PICTURE_FORMATS)}")
    if args.sentence > len(args.sentences):
        parser.error(f"argument --sentence: {args.sentence}, but {len(args.sentences)} "
                     f"sentence(s) were given")
    if args.word is not None and args.attention_png is None:
        parser.error("argument --word: draws a picture; give --attention-png too")
    for text, what in ((args.layers, "layers"), (args.heads, "heads")):
        if text is not None:
            number_ranges(text, what)  # their form, before the model loads; their bounds after
    model = load_model(args.model, pick_device(args.device, "--device"))
    config = model.encoder.config
    default_layers = "all" if args.word is not None else f"1,{config.num_layers}"
    layers = parse_numbers(args.layers or default_layers, config.num_layers, "layers")
    heads = parse_numbers(args.heads, config.num_heads, "heads")
    for number, ids in enumerate(model.tokenizer.tokenize(args.sentences), start=1):
        if len(ids) == 2:  # [CLS] [SEP]: normalisation removed every character
            raise InputError(f"sentence {number}: no word pieces in "
                             f"{args.sentences[number - 1]!r:.60} (only characters the tokenizer "
                             f"removes, such as zero-width spaces or control characters)")
    trace = trace_sentences(model, args.sentences)
    sentence = args.sentence - 1
    position = None if args.word is None else find_piece(trace.pieces[sentence], args.word)
    print("\n".join(describe(model, trace)))
    if args.attention_png is not None:
        if position is None:
            draw_attention(trace, layers, heads, args.attention_png, sentence)
        else:
            draw_word(trace, position, layers, heads, args.attention_png, sentence)
        drawn = "" if position is None else f"{args.word!r} in "
        print(f"\nwrote {args.attention_png}: {drawn}layers {', '.join(str(i + 1) for i in layers)}"
              f" x heads {', '.join(str(i + 1) for i in heads)} of sentence {args.sentence}")
    if args.html is not None:
        size = write_page(args.html, trace,
                          lambda weights: pattern_caption(attention_pattern(weights)),
                          f"{args.model} -- {describe(model, trace)[0]}")
        print(f"\nwrote {args.html} ({size / 1000:.0f} kB): the attention explorer of every "
              f"layer and head; open it in a browser")
    return 0


if __name__ == "__main__":
    sys.exit(main())
