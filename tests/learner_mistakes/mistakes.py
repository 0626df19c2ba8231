"""The mistakes: each is one learner's edit of a correct solution in solutions/, and the words the
checker's failure must hold. Grouped by component, in the order of exercises/README.md.

`edits` are (text of the solution, what the learner wrote instead), each text found exactly once.
The checker must point at the learner's line: by default one of the lines an edit wrote; `line`
names text the pointed line must hold instead (for a line the learner deleted, the pointer falls
on a neighbour), and `line=None` asks for no line (the message quotes the line itself).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

SOLUTIONS = Path(__file__).resolve().parent / "solutions"
# component: (the file of solutions/ the learner edits, the name the check is given)
FILES = {"positional": ("positional.py", "SinusoidalPositionalEncoding"),
         "attention": ("attention.py", "MultiHeadAttention"),
         "pooling": ("pooling.py", "mean_pooling"),
         "encoder_layer": ("encoder_layer.py", "EncoderLayer"),
         "encoder": ("encoder.py", "Encoder"),
         "cosent": ("cosent.py", "cosent_loss"),
         "layer_rates": ("layer_rates.py", "parameter_groups")}
EDITED = "edited"  # the default `line`: one of the lines the edits wrote


@dataclass
class Mistake:
    component: str
    name: str
    edits: list[tuple[str, str]]
    says: str  # words the failure message must hold
    line: str | None = EDITED

    @property
    def id(self) -> str:
        return f"{self.component}: {self.name}"


def write_solution(component: str, folder: Path, edits: list[tuple[str, str]] = ()) -> tuple[
        Path, list[int]]:
    """The solution of `component` with `edits` applied, written into `folder` (with the files it
    imports beside it); (its path, the numbers of the lines the edits wrote)."""
    file, _ = FILES[component]
    folder.mkdir(parents=True, exist_ok=True)
    if component == "encoder":  # exercise 5 imports the learner's layer from beside it
        shutil.copy(SOLUTIONS / "encoder_layer.py", folder / "encoder_layer.py")
    text = (SOLUTIONS / file).read_text(encoding="utf-8")
    written = []
    for old, new in edits:
        assert text.count(old) == 1, f"{component}: {old!r} is in the solution {text.count(old)}x"
        start = text.index(old)
        first = text.count("\n", 0, start) + 1
        text = text[:start] + new + text[start + len(old):]
        written.append((start, first, first + new.count("\n")))
    path = folder / file
    path.write_text(text, encoding="utf-8")
    lines = sorted({n for _, first, last in written for n in range(first, last + 1)})
    return path, lines


def M(component, name, edits, says, line=EDITED):  # noqa: N802 - reads as a table row
    return Mistake(component, name, edits if isinstance(edits, list) else [edits], says, line)


MISTAKES = [
    # ---- 1. positional encoding ---------------------------------------------------------------
    M("positional", "computed in float32",
      [("positions = torch.arange(max_length, dtype=torch.float64)",
        "positions = torch.arange(max_length, dtype=torch.float32)"),
       ("two_i = torch.arange(0, hidden_size, 2, dtype=torch.float64)",
        "two_i = torch.arange(0, hidden_size, 2, dtype=torch.float32)"),
       ("table = torch.zeros(max_length, hidden_size, dtype=torch.float64)",
        "table = torch.zeros(max_length, hidden_size)")],
      "the table is computed in float32"),
    M("positional", "sin and cos swapped",
      [("torch.sin(angles)", "torch.cos(angles)"), ("table[:, 1::2] = torch.cos(angles)",
                                                      "table[:, 1::2] = torch.sin(angles)")],
      "positions use cos where the formula has sin"),
    M("positional", "exponent i / d",
      ("two_i = torch.arange(0, hidden_size, 2, dtype=torch.float64)",
       "two_i = torch.arange(hidden_size // 2, dtype=torch.float64)"),
      "the exponent is i / d where the formula has 2i / d"),
    M("positional", "sines and cosines in halves",
      [("table[:, 0::2] = torch.sin", "table[:, :hidden_size // 2] = torch.sin"),
       ("table[:, 1::2] = torch.cos", "table[:, hidden_size // 2:] = torch.cos")],
      "the paper interleaves them"),
    M("positional", "positions start at 1",
      ("torch.arange(max_length, dtype=torch.float64)",
       "torch.arange(1, max_length + 1, dtype=torch.float64)"),
      "positions start at 1: the first token's position is 0"),
    M("positional", "multiplied by the frequency's inverse",
      ("positions / 10000 ** (two_i / hidden_size)", "positions * 10000 ** (two_i / hidden_size)"),
      "the positions are multiplied by 10000^(2i/d) where the formula divides"),
    M("positional", "base 1000",
      ("positions / 10000 **", "positions / 1000 **"),
      "the base is 1000 where the formula has 10000"),
    M("positional", "the table in a plain attribute",
      ('self.register_buffer("table", sinusoidal_table(max_length, hidden_size))',
       "self.table = sinusoidal_table(max_length, hidden_size)"),
      "the table is a plain attribute, self.table"),
    M("positional", "the table as a parameter",
      ('self.register_buffer("table", sinusoidal_table(max_length, hidden_size))',
       "self.table = nn.Parameter(sinusoidal_table(max_length, hidden_size))"),
      "the table is an nn.Parameter"),
    M("positional", "length from the batch axis",
      ("length = input_shape[1]", "length = input_shape[0]"),
      "is input_shape[0], the batch size B"),
    M("positional", "no leading batch axis",
      ("return self.table[:length].unsqueeze(0)", "return self.table[:length]"),
      "add the leading 1"),
    M("positional", "rows shifted by one in forward",
      ("self.table[:length]", "self.table[1:length + 1]"),
      "rows 1 to T (table[1:T + 1]) run past the table's end"),
    M("positional", "a float32 copy in forward",
      ("self.table[:length].unsqueeze(0)", "self.table[:length].unsqueeze(0).float()"),
      "return it as it is stored"),

    # ---- 2. attention -------------------------------------------------------------------------
    M("attention", "no scaling",
      ("q @ k.transpose(-2, -1) / math.sqrt(self.head_size)", "q @ k.transpose(-2, -1)"),
      "scores are not divided by sqrt(d_k)"),
    M("attention", "divided by d_k",
      ("/ math.sqrt(self.head_size)", "/ self.head_size"),
      "scores are divided by d_k"),
    M("attention", "divided by sqrt(d)",
      ("/ math.sqrt(self.head_size)", "/ math.sqrt(width)"),
      "scores are divided by sqrt(d)"),
    M("attention", "multiplied by sqrt(d_k)",
      ("/ math.sqrt(self.head_size)", "* math.sqrt(self.head_size)"),
      "multiplied by sqrt(d_k)"),
    M("attention", "softmax over the queries",
      ("scores.softmax(dim=-1)", "scores.softmax(dim=-2)"),
      "take the softmax over the keys"),
    M("attention", "softmax over the heads",
      ("scores.softmax(dim=-1)", "scores.softmax(dim=1)"),
      "the softmax is over the heads"),
    M("attention", "scores K Q^T",
      ("q @ k.transpose(-2, -1)", "k @ q.transpose(-2, -1)"),
      "the scores are K Q^T"),
    M("attention", "mask added after the softmax",
      [("        if additive_mask is not None:\n            scores = scores + additive_mask\n", ""),
       ("weights = scores.softmax(dim=-1)\n",
        "weights = scores.softmax(dim=-1)\n        if additive_mask is not None:\n"
        "            weights = weights + additive_mask\n")],
      "the mask is added after the softmax", line="weights = weights + additive_mask"),
    M("attention", "mask ignored",
      ("scores = scores + additive_mask", "scores = scores"),
      "additive_mask is not used", line="softmax"),
    M("attention", "mask subtracted",
      ("scores = scores + additive_mask", "scores = scores - additive_mask"),
      "the mask is inverted"),
    M("attention", "mask multiplied",
      ("scores = scores + additive_mask", "scores = scores * additive_mask"),
      "the mask is multiplied"),
    M("attention", "mask read as 1 = token",
      ("scores = scores + additive_mask",
       "scores = scores.masked_fill(additive_mask == 0, -1e4)"),
      "the mask is inverted"),
    M("attention", "mask of -inf",
      ("scores = scores + additive_mask",
       "scores = scores.masked_fill(additive_mask < 0, float('-inf'))"),
      "keep the mask finite"),
    M("attention", "mask on the query axis",
      ("scores = scores + additive_mask", "scores = scores + additive_mask.transpose(-2, -1)"),
      "the mask is added along the query axis"),
    M("attention", "the mask is not optional",
      ("        if additive_mask is not None:\n            scores = scores + additive_mask\n",
       "        scores = scores + additive_mask\n"),
      "additive_mask may be None"),
    M("attention", "heads split without a transpose",
      ("x.view(batch, length, self.num_heads, self.head_size).transpose(1, 2)",
       "x.reshape(batch, self.num_heads, length, self.head_size)"),
      "the heads are split wrongly", line="reshape"),
    M("attention", "heads merged without a transpose",
      ("context.transpose(1, 2).reshape(batch, length, width)",
       "context.reshape(batch, length, width)"),
      "the heads are merged back wrongly"),
    M("attention", "keys from the query layer",
      ("k = self.split(self.key(hidden))", "k = self.split(self.query(hidden))"),
      "the keys are computed with self.query"),
    M("attention", "values from the key layer",
      ("v = self.split(self.value(hidden))", "v = self.split(self.key(hidden))"),
      "the values are computed with self.key"),
    M("attention", "no output projection",
      ("output = self.output(merged)", "output = merged"),
      "forward never uses it", line="reshape"),
    M("attention", "one linear layer for query, key and value",
      ("self.key = nn.Linear(hidden_size, hidden_size)", "self.key = self.query"),
      "query and key are one nn.Linear object"),
    M("attention", "no dropout",
      ("dropped = F.dropout(weights, self.attention_dropout, training=self.training)",
       "dropped = weights"),
      "the attention weights get no dropout", line="softmax"),
    M("attention", "dropout in eval mode too",
      ("F.dropout(weights, self.attention_dropout, training=self.training)",
       "F.dropout(weights, self.attention_dropout)"),
      "dropout must act only in training"),
    M("attention", "dropout on the scores",
      [("dropped = F.dropout(weights, self.attention_dropout, training=self.training)",
        "dropped = weights"),
       ("weights = scores.softmax(dim=-1)",
        "weights = F.dropout(scores, self.attention_dropout, training=self.training)"
        ".softmax(dim=-1)")],
      "dropout is on the scores, before the softmax"),
    M("attention", "dropout on the output",
      [("dropped = F.dropout(weights, self.attention_dropout, training=self.training)",
        "dropped = weights"),
       ("output = self.output(merged)",
        "output = F.dropout(self.output(merged), self.attention_dropout, "
        "training=self.training)")],
      "dropout is on the output"),
    M("attention", "dropout on the values",
      [("dropped = F.dropout(weights, self.attention_dropout, training=self.training)",
        "dropped = weights"),
       ("v = self.split(self.value(hidden))",
        "v = F.dropout(self.split(self.value(hidden)), self.attention_dropout, "
        "training=self.training)")],
      "dropout is on the values"),
    M("attention", "dropout twice",
      ("context = dropped @ v",
       "context = F.dropout(dropped, self.attention_dropout, training=self.training) @ v"),
      "dropout is applied twice", line="F.dropout"),
    M("attention", "a dropout mask of its own, on the values",
      [("dropped = F.dropout(weights, self.attention_dropout, training=self.training)",
        "dropped = weights"),
       ("v = self.split(self.value(hidden))",
        "v = self.split(self.value(hidden))\n        if self.training:\n"
        "            v = v * (torch.rand_like(v) >= self.attention_dropout) / "
        "(1 - self.attention_dropout)")],
      "dropout acts on the values, on weights @ V or on the output"),
    M("attention", "a dropout mask of its own, not rescaled",
      ("F.dropout(weights, self.attention_dropout, training=self.training)",
       "weights * (torch.rand_like(weights) >= self.attention_dropout) if self.training "
       "else weights"),
      "the kept weights are not scaled by 1 / (1 - p)"),
    M("attention", "dropout rate hard-coded",
      ("F.dropout(weights, self.attention_dropout, training=self.training)",
       "F.dropout(weights, 0.1, training=self.training)"),
      "the rate is 0.1, not attention_dropout"),

    # ---- 3. pooling ---------------------------------------------------------------------------
    M("pooling", "the mean over padding too",
      ("    summed = (states * mask).sum(dim=1)  # (B, d)\n", "    return states.mean(dim=1)\n"),
      "the mean includes padding"),
    M("pooling", "divided by the length",
      ("return summed / count", "return summed / states.shape[1]"),
      "divided by all T = 3 positions"),
    M("pooling", "no clamp",
      ("mask.sum(dim=1).clamp(min=1e-9)", "mask.sum(dim=1)"),
      "gives NaN (0 / 0)"),
    M("pooling", "a count of shape (B,)",
      ("count = mask.sum(dim=1).clamp(min=1e-9)",
       "count = attention_mask.sum(dim=1).clamp(min=1e-9)"),
      "The shapes do not broadcast", line="summed / count"),
    M("pooling", "states changed in place",
      ("summed = (states * mask).sum(dim=1)", "summed = states.mul_(mask).sum(dim=1)"),
      "changed its inputs in place"),
    M("pooling", "the mask inverted",
      ("mask = attention_mask.unsqueeze(-1).to(states.dtype)",
       "mask = (attention_mask == 0).unsqueeze(-1).to(states.dtype)"),
      "the mask is inverted"),
    M("pooling", "the mean over the features",
      ("return summed / count", "return (states * mask).mean(dim=-1)"),
      "average over the tokens, dimension 1"),
    M("pooling", "the sum, not the mean",
      ("return summed / count", "return summed"),
      "the vectors are sums, not means"),
    M("pooling", "divided by the batch's count",
      ("count = mask.sum(dim=1).clamp(min=1e-9)", "count = mask.sum().clamp(min=1e-9)"),
      "the number of real tokens in the whole batch"),

    # ---- 4. encoder layer ---------------------------------------------------------------------
    M("encoder_layer", "pre and post swapped",
      ('self.pre_norm = config.norm_placement == "pre"',
       'self.pre_norm = config.norm_placement == "post"'),
      "this is a pre-norm layer, but config.norm_placement is 'post'"),
    M("encoder_layer", "always post-norm",
      ('self.pre_norm = config.norm_placement == "pre"', "self.pre_norm = False"),
      "this is a post-norm layer, but config.norm_placement is 'pre'"),
    M("encoder_layer", "no residual around the attention",
      ("self.attention_norm(x + self.dropout(self.attention(x, additive_mask)))",
       "self.attention_norm(self.dropout(self.attention(x, additive_mask)))"),
      "the attention sub-layer has no residual connection"),
    M("encoder_layer", "no residual around the feed-forward, pre-norm",
      ("x = x + self.dropout(self.feed_forward(self.feed_forward_norm(x)))",
       "x = self.dropout(self.feed_forward(self.feed_forward_norm(x)))"),
      "the feed-forward sub-layer has no residual connection"),
    M("encoder_layer", "the two LayerNorms swapped",
      [("self.attention_norm(x + self.dropout(self.attention(x, additive_mask)))",
        "self.feed_forward_norm(x + self.dropout(self.attention(x, additive_mask)))"),
       ("self.feed_forward_norm(x + self.dropout(self.feed_forward(x)))",
        "self.attention_norm(x + self.dropout(self.feed_forward(x)))")],
      "the two LayerNorms are swapped"),
    M("encoder_layer", "one LayerNorm for both sub-layers",
      ("self.feed_forward_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)",
       "self.feed_forward_norm = self.attention_norm"),
      "attention_norm and feed_forward_norm are one nn.LayerNorm object"),
    M("encoder_layer", "the residual taken after the LayerNorm, pre-norm",
      ("x = x + self.dropout(self.attention(self.attention_norm(x), additive_mask))",
       "x = self.attention_norm(x)\n            x = x + self.dropout(self.attention(x, "
       "additive_mask))"),
      "the residual adds LN(x), not x"),
    M("encoder_layer", "post-norm attention, pre-norm feed-forward",
      ("x = self.feed_forward_norm(x + self.dropout(self.feed_forward(x)))",
       "x = x + self.dropout(self.feed_forward(self.feed_forward_norm(x)))"),
      "the attention sub-layer is post-norm and the feed-forward pre-norm"),
    M("encoder_layer", "GELU whatever the config says",
      ("self.activation = ACTIVATIONS[config.activation]", "self.activation = F.gelu"),
      "the feed-forward uses gelu, but config.activation is 'relu'"),
    M("encoder_layer", "ReLU whatever the config says",
      ("self.activation = ACTIVATIONS[config.activation]", "self.activation = F.relu"),
      "the feed-forward uses relu, but config.activation is 'gelu'"),
    M("encoder_layer", "tanh GELU for gelu",
      ('"gelu": F.gelu,', '"gelu": lambda x: F.gelu(x, approximate="tanh"),'),
      "the feed-forward uses gelu_tanh, but config.activation is 'gelu'"),
    M("encoder_layer", "no activation",
      ("return self.outer(self.activation(self.inner(x)))", "return self.outer(self.inner(x))"),
      "the feed-forward has no activation"),
    M("encoder_layer", "the activation after the outer layer",
      ("return self.outer(self.activation(self.inner(x)))",
       "return self.activation(self.outer(self.inner(x)))"),
      "the activation comes after outer"),
    M("encoder_layer", "LayerNorm eps left at its default",
      ("self.attention_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)",
       "self.attention_norm = nn.LayerNorm(config.hidden_size)"),
      "pass eps=config.layer_norm_eps"),
    M("encoder_layer", "the mask not passed on",
      ("self.attention_norm(x + self.dropout(self.attention(x, additive_mask)))",
       "self.attention_norm(x + self.dropout(self.attention(x)))"),
      "the layer ignores the padding"),
    M("encoder_layer", "attention dropout from config.dropout",
      ("config.num_heads,\n                                            config.attention_dropout)",
       "config.num_heads,\n                                            config.dropout)"),
      "the attention's dropout rate is config.dropout"),
    M("encoder_layer", "no attention dropout",
      ("config.num_heads,\n                                            config.attention_dropout)",
       "config.num_heads)"),
      "the attention gets no dropout"),
    M("encoder_layer", "dropout rate hard-coded",
      ("self.dropout = nn.Dropout(config.dropout)", "self.dropout = nn.Dropout(0.1)"),
      "the layer's dropout rate is 0.1, not config.dropout"),
    M("encoder_layer", "dropout rate from config.attention_dropout",
      ("self.dropout = nn.Dropout(config.dropout)",
       "self.dropout = nn.Dropout(config.attention_dropout)"),
      "the layer's dropout rate is config.attention_dropout"),
    M("encoder_layer", "dropout on the residual sum",
      ("self.attention_norm(x + self.dropout(self.attention(x, additive_mask)))",
       "self.attention_norm(self.dropout(x + self.attention(x, additive_mask)))"),
      "the attention sub-layer's dropout is on the residual sum"),
    M("encoder_layer", "dropout after the LayerNorm",
      ("x = self.feed_forward_norm(x + self.dropout(self.feed_forward(x)))",
       "x = self.dropout(self.feed_forward_norm(x + self.feed_forward(x)))"),
      "the feed-forward sub-layer's dropout is after the LayerNorm"),
    M("encoder_layer", "dropout on the sub-layer's input",
      ("self.attention_norm(x + self.dropout(self.attention(x, additive_mask)))",
       "self.attention_norm(x + self.attention(self.dropout(x), additive_mask))"),
      "the attention sub-layer's dropout is on the sub-layer's input"),
    M("encoder_layer", "dropout on the input as well as the output",
      ("x = x + self.dropout(self.feed_forward(self.feed_forward_norm(x)))",
       "x = x + self.dropout(self.feed_forward(self.dropout(self.feed_forward_norm(x))))"),
      "the feed-forward sub-layer's dropout is on its input as well as its output"),
    M("encoder_layer", "no dropout on the feed-forward",
      ("x = self.feed_forward_norm(x + self.dropout(self.feed_forward(x)))",
       "x = self.feed_forward_norm(x + self.feed_forward(x))"),
      "the feed-forward sub-layer's dropout is missing"),
    M("encoder_layer", "a dropout module of its own, on the residual sum",
      [("class FeedForward(nn.Module):",
        "class Dropout(nn.Module):\n    def __init__(self, p: float):\n        super().__init__()\n"
        "        self.p = p\n\n    def forward(self, x: torch.Tensor) -> torch.Tensor:\n"
        "        if not self.training:\n            return x\n"
        "        return x * (torch.rand_like(x) >= self.p) / (1 - self.p)\n\n\n"
        "class FeedForward(nn.Module):"),
       ("self.dropout = nn.Dropout(config.dropout)", "self.dropout = Dropout(config.dropout)"),
       ("x = self.feed_forward_norm(x + self.dropout(self.feed_forward(x)))",
        "x = self.feed_forward_norm(self.dropout(x + self.feed_forward(x)))")],
      "the feed-forward sub-layer's dropout is on the residual sum",
      line="self.feed_forward_norm(self.dropout("),
    M("encoder_layer", "a dropout function of its own, after the LayerNorm",
      [("self.dropout = nn.Dropout(config.dropout)", "self.rate = config.dropout"),
       ("    def forward(self, x: torch.Tensor, additive_mask: torch.Tensor | None = None)"
        " -> torch.Tensor:\n",
        "    def dropout(self, h: torch.Tensor) -> torch.Tensor:\n"
        "        if not self.training:\n            return h\n"
        "        return h * (torch.rand_like(h) >= self.rate) / (1 - self.rate)\n\n"
        "    def forward(self, x: torch.Tensor, additive_mask: torch.Tensor | None = None)"
        " -> torch.Tensor:\n"),
       ("x = self.feed_forward_norm(x + self.dropout(self.feed_forward(x)))",
        "x = self.dropout(self.feed_forward_norm(x + self.feed_forward(x)))")],
      "the tokens' outputs spread", line="self.dropout("),
    M("encoder_layer", "dropout in eval mode too",
      ("self.dropout = nn.Dropout(config.dropout)",
       "self.dropout = lambda h: F.dropout(h, config.dropout)"),
      "dropout must act only in training", line="self.dropout("),

    # ---- 5. encoder ---------------------------------------------------------------------------
    M("encoder", "no final LayerNorm",
      ('        if config.norm_placement == "pre":\n            self.final_norm = nn.LayerNorm('
       "config.hidden_size, eps=config.layer_norm_eps)\n", ""),
      "a pre-norm stack needs a final LayerNorm", line="self.layers = "),
    M("encoder", "the final LayerNorm never applied",
      ('        if self.config.norm_placement == "pre":\n            x = self.final_norm(x)\n', ""),
      "apply final_norm after the last layer", line="return x"),
    M("encoder", "a final LayerNorm in a post-norm stack",
      ('        if config.norm_placement == "pre":\n            self.final_norm',
       "        if True:\n            self.final_norm"),
      "a post-norm stack has no final LayerNorm"),
    M("encoder", "a final LayerNorm after every layer",
      ("x = layer(x, additive_mask)",
       "x = layer(x, additive_mask)\n            if self.config.norm_placement == \"pre\":\n"
       "                x = self.final_norm(x)"),
      "final_norm is applied after every layer"),
    M("encoder", "a list of layers",
      ("nn.ModuleList([EncoderLayer(config) for _ in range(config.num_layers)])",
       "[EncoderLayer(config) for _ in range(config.num_layers)]"),
      "layers is a plain Python list"),
    M("encoder", "one layer object repeated",
      ("nn.ModuleList([EncoderLayer(config) for _ in range(config.num_layers)])",
       "nn.ModuleList([EncoderLayer(config)] * config.num_layers)"),
      "layers.0 and layers.1 are one EncoderLayer object"),
    M("encoder", "a layer too few",
      ("for _ in range(config.num_layers)", "for _ in range(config.num_layers - 1)"),
      "1 layer, config.num_layers is 2"),
    M("encoder", "the mask not passed to the layers",
      ("x = layer(x, additive_mask)", "x = layer(x)"),
      "the encoder ignores the attention mask"),
    M("encoder", "the 1/0 mask passed as it is",
      ("additive_mask = additive_padding_mask(attention_mask, x.dtype)",
       "additive_mask = attention_mask[:, None, None, :].to(x.dtype)"),
      "the layers get the 1/0 mask"),
    M("encoder", "no mask fails",
      ("        additive_mask = None\n        if attention_mask is not None:\n"
       "            additive_mask = additive_padding_mask(attention_mask, x.dtype)",
       "        additive_mask = additive_padding_mask(attention_mask, x.dtype)"),
      "attention_mask may be None"),
    M("encoder", "no mask read as all padding",
      ("        additive_mask = None\n        if attention_mask is not None:\n"
       "            additive_mask = additive_padding_mask(attention_mask, x.dtype)",
       "        if attention_mask is None:\n"
       "            attention_mask = torch.zeros_like(input_ids)\n"
       "        additive_mask = additive_padding_mask(attention_mask, x.dtype)"),
      "without a mask every token is real"),
    M("encoder", "layers run top to bottom",
      ("for layer in self.layers:", "for layer in reversed(self.layers):"),
      "the layers run in reverse order"),

    # ---- 6. CoSENT ----------------------------------------------------------------------------
    M("cosent", "sign flipped",
      ("(cosines[None, :] - cosines[:, None])", "(cosines[:, None] - cosines[None, :])"),
      "the sign is flipped"),
    M("cosent", "order read the wrong way",
      ("scores[:, None] > scores[None, :]", "scores[:, None] < scores[None, :]"),
      "the sign is flipped", line="cosines[None, :]"),
    M("cosent", "no scale",
      ("differences = scale * (", "differences = ("),
      "the scale is not applied"),
    M("cosent", "divided by the scale",
      ("differences = scale * (", "differences = 1 / scale * ("),
      "the terms are divided by scale"),
    M("cosent", "no 1 +",
      ("torch.cat([one, terms])", "terms"),
      "the '1 +' inside the log is missing"),
    M("cosent", "log(1 + sum exp) written out",
      ("return torch.logsumexp(torch.cat([one, terms]), dim=0)",
       "return torch.log(1 + torch.exp(terms).sum())"),
      "exp overflows float32"),
    M("cosent", "ties counted",
      ("scores[:, None] > scores[None, :]", "scores[:, None] >= scores[None, :]"),
      "tied pairs are counted"),
    M("cosent", "the cosines detached",
      ("differences = scale * (cosines[None, :] - cosines[:, None])",
       "differences = scale * (cosines[None, :] - cosines[:, None]).detach()"),
      "the loss does not depend on the cosines through autograd"),
    M("cosent", "the mean of the terms",
      ("return torch.logsumexp(torch.cat([one, terms]), dim=0)",
       "return torch.log(1 + terms.exp().mean())"),
      "the terms are averaged"),
    M("cosent", "a log per pair",
      ("return torch.logsumexp(torch.cat([one, terms]), dim=0)",
       "return torch.nn.functional.softplus(terms).sum()"),
      "each pair gets its own log(1 + exp)"),

    # ---- 7. layer-wise learning rates ---------------------------------------------------------
    M("layer_rates", "depth order reversed",
      [("rate = lr * layer_decay ** num_layers", "rate = lr"),
       ("layer_decay ** (num_layers - depth)", "layer_decay ** depth"),
       ("elif name.startswith(\"encoder.final_norm.\"):\n            rate = lr",
        "elif name.startswith(\"encoder.final_norm.\"):\n"
        "            rate = lr * layer_decay ** num_layers")],
      "the exponent is the depth k where it should be N - k"),
    M("layer_rates", "layers counted from 0",
      ("depth = int(name.split(\".\")[2]) + 1", "depth = int(name.split(\".\")[2])"),
      "encoder.layers.i is at depth i + 1"),
    M("layer_rates", "every depth off by one",
      [("rate = lr * layer_decay ** num_layers", "rate = lr * layer_decay ** (num_layers + 1)"),
       ("layer_decay ** (num_layers - depth)", "layer_decay ** (num_layers - depth + 1)"),
       ("            rate = lr\n", "            rate = lr * layer_decay\n")],
      "the exponent is off by one"),
    M("layer_rates", "no layer decay",
      [("rate = lr * layer_decay ** num_layers", "rate = lr"),
       ("rate = lr * layer_decay ** (num_layers - depth)", "rate = lr")],
      "layer_decay (0.8) is not applied", line="encoder.layers"),
    M("layer_rates", "divided by the decay",
      [("rate = lr * layer_decay ** num_layers", "rate = lr / layer_decay ** num_layers"),
       ("lr * layer_decay ** (num_layers - depth)", "lr / layer_decay ** (num_layers - depth)")],
      "the rates grow toward the embeddings"),
    M("layer_rates", "layer 10 read as layer 1",
      ("depth = int(name.split(\".\")[2]) + 1", "depth = int(name[15]) + 1"),
      "encoder.layers.10"),
    M("layer_rates", "the heads at lr",
      ("heads_rate = head_lr if head_lr is not None else 10 * lr",
       "heads_rate = head_lr if head_lr is not None else lr"),
      "the heads train at lr = 0.001: they start from random"),
    M("layer_rates", "head_lr ignored",
      ("heads_rate = head_lr if head_lr is not None else 10 * lr", "heads_rate = 10 * lr"),
      "head_lr is not used"),
    M("layer_rates", "the final LayerNorm as a head",
      ("        elif name.startswith(\"encoder.final_norm.\"):\n            rate = lr\n", ""),
      "encoder.final_norm", line="rate = heads_rate"),
    M("layer_rates", "the embeddings at lr",
      ("rate = lr * layer_decay ** num_layers", "rate = lr"),
      "encoder.embeddings", line='"encoder.embeddings."'),
    M("layer_rates", "weight decay on everything",
      ("decay = weight_decay if parameter.dim() >= 2 else 0.0", "decay = weight_decay"),
      "is decayed"),
    M("layer_rates", "weight decay by the name 'bias'",
      ("decay = weight_decay if parameter.dim() >= 2 else 0.0",
       "decay = 0.0 if name.endswith(\"bias\") else weight_decay"),
      "(a LayerNorm gain) is decayed"),
    M("layer_rates", "matrices not decayed",
      ("parameter.dim() >= 2", "parameter.dim() > 2"),
      "a matrix, gets weight decay 0.0"),
    M("layer_rates", "frozen parameters included",
      ("        if not parameter.requires_grad:\n            continue\n", ""),
      "frozen parameter", line="named_parameters"),
    M("layer_rates", "names in the groups",
      ("groups.setdefault((rate, decay), []).append(parameter)",
       "groups.setdefault((rate, decay), []).append(name)"),
      "they must be the model's parameters themselves"),
]

# Correct solutions written another way, each an edit of a solution too: every one must pass.
CORRECT_VARIANTS = [
    M("attention", "dropout from nn.Dropout",
      [("self.output = nn.Linear(hidden_size, hidden_size)\n",
        "self.output = nn.Linear(hidden_size, hidden_size)\n"
        "        self.drop = nn.Dropout(attention_dropout)\n"),
       ("F.dropout(weights, self.attention_dropout, training=self.training)",
        "self.drop(weights)")], ""),
    M("attention", "a dropout mask of its own",  # other random numbers: compared in distribution
      ("F.dropout(weights, self.attention_dropout, training=self.training)",
       "weights * (torch.rand_like(weights) >= self.attention_dropout) / "
       "(1 - self.attention_dropout) if self.training else weights"), ""),
    M("attention", "torch.matmul and a scale computed once",
      ("q @ k.transpose(-2, -1) / math.sqrt(self.head_size)",
       "torch.matmul(q, k.transpose(-1, -2)) * self.head_size ** -0.5"), ""),
    M("encoder_layer", "the package's own Dropout",  # its random numbers are drawn another way
      [("from minitransformer.model.attention import MultiHeadAttention\n",
        "from minitransformer.fast.dropout import Dropout\n"
        "from minitransformer.model.attention import MultiHeadAttention\n"),
       ("self.dropout = nn.Dropout(config.dropout)", "self.dropout = Dropout(config.dropout)")],
      ""),
    M("encoder_layer", "F.dropout in forward",
      [("self.dropout = nn.Dropout(config.dropout)", "self.rate = config.dropout"),
       ("    def forward(self, x: torch.Tensor, additive_mask: torch.Tensor | None = None)"
        " -> torch.Tensor:\n",
        "    def dropout(self, h: torch.Tensor) -> torch.Tensor:\n"
        "        return F.dropout(h, self.rate, training=self.training)\n\n"
        "    def forward(self, x: torch.Tensor, additive_mask: torch.Tensor | None = None)"
        " -> torch.Tensor:\n")], ""),
    M("encoder_layer", "a dropout function of its own",  # compared in distribution
      [("self.dropout = nn.Dropout(config.dropout)", "self.rate = config.dropout"),
       ("    def forward(self, x: torch.Tensor, additive_mask: torch.Tensor | None = None)"
        " -> torch.Tensor:\n",
        "    def dropout(self, h: torch.Tensor) -> torch.Tensor:\n"
        "        if not self.training:\n            return h\n"
        "        return h * (torch.rand_like(h) >= self.rate) / (1 - self.rate)\n\n"
        "    def forward(self, x: torch.Tensor, additive_mask: torch.Tensor | None = None)"
        " -> torch.Tensor:\n")], ""),
    M("encoder", "final_norm None in a post-norm stack",
      ('        if config.norm_placement == "pre":\n            self.final_norm',
       '        self.final_norm = None\n        if config.norm_placement == "pre":\n'
       "            self.final_norm"), ""),
    M("pooling", "the count clamped at 1",
      ("clamp(min=1e-9)", "clamp(min=1)"), ""),
    M("positional", "a buffer left out of the state_dict",
      ("sinusoidal_table(max_length, hidden_size))",
       "sinusoidal_table(max_length, hidden_size), persistent=False)"), ""),
    M("cosent", "the 1 as a zero-size pad",
      ("torch.cat([one, terms])", "torch.nn.functional.pad(terms, (1, 0))"), ""),
    M("layer_rates", "one group per parameter",
      [("groups.setdefault((rate, decay), []).append(parameter)",
        "groups[name] = (rate, decay, parameter)"),
       ("    return [{\"params\": params, \"lr\": rate, \"weight_decay\": decay}\n"
        "            for (rate, decay), params in groups.items()]",
        "    return [{\"params\": [parameter], \"lr\": rate, \"weight_decay\": decay}\n"
        "            for rate, decay, parameter in groups.values()]")], ""),
]
