"""Checks for the sinusoidal positional encoding (Vaswani et al. 2017, section 3.5):

    PE[pos, 2i]   = sin(pos / 10000^(2i / d))
    PE[pos, 2i+1] = cos(pos / 10000^(2i / d))

The learner writes either a function like minitransformer.model.positional.sinusoidal_table,
    sinusoidal_table(max_length, hidden_size) -> (max_length, d),
or a module like SinusoidalPositionalEncoding(max_length, hidden_size) whose forward(input_shape)
takes the (B, T) shape of a batch of ids and returns (1, T, d). The reference is the formula
above, computed entry by entry in float64; known mistakes are recognised by building their
tables and finding the learner's among them. A module must keep its table as a buffer, which
moves with `.to()`. (No MiniLM check: MiniLM learns its positions.)
"""

from __future__ import annotations

import inspect
import math

import torch

from .core import Check, CheckFailed, Component, Signature, close, expect_shape, max_difference

SMALL = (50, 16)  # (max_length, d) where mistakes are named
LARGE = (512, 384)  # MiniLM's sizes: the largest angles, where float32 falls short
TOLERANCE_SMALL = 1e-5
# Computed in float64 and rounded once to float32, every entry (at most 1 in size) is within half
# a float32 step, 6e-8. Computed in float32, an angle near 511 rad is already off by ~3e-5 rad
# (24 bits of mantissa) before sin is taken: 1e-6 passes the first on any CPU, never the second.
TOLERANCE_LARGE = 1e-6


def formula(max_length: int, d: int, *, exponent=lambda dim: 2 * (dim // 2), sin_at_even=True,
            halves=False, start: int = 0, base: float = 10000.0,
            multiplied: bool = False) -> torch.Tensor:
    """The (max_length, d) table of the paper, written entry by entry; the keywords build the
    tables of typical mistakes (the default arguments give the right one)."""
    table = torch.empty(max_length, d, dtype=torch.float64)
    for dim in range(d):
        if halves:  # sin for the first d/2 dimensions, cos for the rest, frequency by dim % (d/2)
            pair, use_sin = dim % (d // 2), dim < d // 2
            frequency = 1 / base ** (2 * pair / d)
        else:
            frequency = 1 / base ** (exponent(dim) / d)
            use_sin = (dim % 2 == 0) == sin_at_even
        if multiplied:  # pos * 10000^(2i/d) where the formula divides
            frequency = 1 / frequency
        for pos in range(start, start + max_length):
            angle = pos * frequency
            table[pos - start, dim] = math.sin(angle) if use_sin else math.cos(angle)
    return table


MISTAKES = [  # the message for each mistake, the keywords that build its table, where to look
    ("positions use cos where the formula has sin at even dimensions (PE[pos, 2i] = sin, "
     "PE[pos, 2i+1] = cos)", dict(sin_at_even=False), ("cos", "sin")),
    ("the sines fill the first half of the dimensions and the cosines the second; the paper "
     "interleaves them: sin at each even dimension 2i, cos at the odd 2i+1 next to it",
     dict(halves=True), ("sin", "cos")),
    ("each dimension has its own frequency, 1 / 10000^(dim / d); the two dimensions of a pair, 2i "
     "and 2i+1, share one frequency, 1 / 10000^(2i / d)", dict(exponent=lambda dim: dim),
     ("**", "arange")),
    ("the exponent is i / d where the formula has 2i / d: the frequencies fall too slowly across "
     "the dimensions", dict(exponent=lambda dim: dim // 2), (("arange", 2), "**")),
    ("positions start at 1: the first token's position is 0, so the table's first row is "
     "sin(0), cos(0), ... = 0, 1, 0, 1, ...", dict(start=1), ("arange",)),
    ("the positions are multiplied by 10000^(2i/d) where the formula divides: the angle is "
     "pos / 10000^(2i/d)", dict(multiplied=True), ("**",)),
    ("the base is 1000 where the formula has 10000: the angle is pos / 10000^(2i/d)",
     dict(base=1000.0), ("**",)),
]


def table_of(candidate, max_length: int, d: int) -> torch.Tensor:
    """The learner's (max_length, d) table, from a function or a module (whose forward is
    asked for the positions of a (2, max_length) batch)."""
    if inspect.isclass(candidate):
        module = candidate(max_length, d)
        length = max_length
        with torch.no_grad():
            positions = module(torch.Size([2, length]))
        shape = tuple(positions.shape) if isinstance(positions, torch.Tensor) else None
        problem, near = forward_shape_problem(shape, length, d)
        if problem:
            raise CheckFailed(f"for a (2, {length}) batch forward returns {shape}: {problem}",
                              look_at="forward", near=near)
        return expect_shape(positions, (1, length, d),
                            f"{candidate.__name__}({max_length}, {d})"
                            f"(input_shape=(2, {length}))"
                            " (the (1, T, d) positions of a (B, T) batch)")[0]
    with torch.no_grad():
        table = candidate(max_length, d)
    return expect_shape(table, (max_length, d), f"{candidate.__name__}({max_length}, {d})")


def forward_shape_problem(shape: tuple | None, length: int, d: int) -> tuple[str, tuple]:
    """What a wrong shape of forward's positions for a (2, length) batch tells, and where to
    look; ('', ()) for a shape it tells nothing about."""
    if shape == (length, d):
        return ("add the leading 1 that broadcasts over the batch, .unsqueeze(0): (1, T, d)",
                ("return",))
    if shape == (1, 2, d):
        return ("2 rows is input_shape[0], the batch size B; the number of tokens T is "
                "input_shape[1]", ("input_shape", "return"))
    if shape == (1, length - 1, d):
        return (f"{length - 1} rows for {length} tokens: rows 1 to T (table[1:T + 1]) run past "
                "the table's end; the T positions are rows 0 to T - 1, table[:T]", ("return",))
    return "", ()


def check_dtype(table: torch.Tensor) -> None:
    if table.dtype != torch.float32:
        raise CheckFailed(f"the table is {table.dtype}: the model adds it to float32 embeddings, "
                          "so return float32 (compute in float64 if you like, then .float())")


def check_shape(candidate) -> str:
    check_dtype(table_of(candidate, *SMALL))
    return f"({SMALL[0]}, {SMALL[1]}) table" if not inspect.isclass(candidate) else \
        f"(1, {SMALL[0]}, {SMALL[1]}) for a batch of {SMALL[0]} tokens"


def check_formula(candidate) -> str:
    table = table_of(candidate, *SMALL)
    expected = formula(*SMALL)
    if close(table, expected, TOLERANCE_SMALL):
        return f"every entry within {TOLERANCE_SMALL:g} (d = {SMALL[1]})"
    for message, keywords, near in MISTAKES:
        if close(table, formula(*SMALL, **keywords), 1e-4):
            raise CheckFailed(message, near=near)
    wrong = ((table.double() - expected).abs() > TOLERANCE_SMALL).nonzero()
    pos, dim = wrong[0].tolist()
    function = "sin" if dim % 2 == 0 else "cos"
    raise CheckFailed(f"{len(wrong)} of {table.numel()} entries differ from the formula; the "
                      f"first: PE[{pos}, {dim}] = {table[pos, dim]:.6f}, the formula gives "
                      f"{function}({pos} / 10000^({2 * (dim // 2)}/{SMALL[1]})) = "
                      f"{expected[pos, dim]:.6f}", near=("**", "sin"))


def check_large(candidate) -> str:
    table = table_of(candidate, *LARGE)
    expected = formula_fast(*LARGE)
    worst = max_difference(table, expected)
    if worst <= TOLERANCE_LARGE:
        return f"within {worst:.1e} at 512 positions, d = 384 (tolerance {TOLERANCE_LARGE:g})"
    if worst < 1e-3:  # the size of float32 rounding in the angles, not a wrong formula
        raise CheckFailed(
            f"at 512 positions and d = 384 entries differ from the formula by up to {worst:.2g}, "
            f"more than the {TOLERANCE_LARGE:g} a float64 computation meets: the table is computed "
            "in float32, whose 24-bit mantissa holds an angle near 511 rad only to ~3e-5 rad, and "
            "sin passes that error on; build positions and angles in float64 (torch.arange(..., "
            "dtype=torch.float64)) and convert the finished table with .float(), which rounds each "
            "entry once, to within 6e-8", look_at="__init__",
            near=("float32", ("arange", "dtype"), "arange"))
    pos, dim = ((table.double() - expected).abs() > TOLERANCE_LARGE).nonzero()[0].tolist()
    raise CheckFailed(f"at 512 positions and d = 384 entries differ from the formula by up to "
                      f"{worst:.3g}; the first: PE[{pos}, {dim}] = {table[pos, dim]:.6f}, the "
                      f"formula gives {expected[pos, dim]:.6f}", look_at="__init__",
                      near=("**", "sin"))


def formula_fast(max_length: int, d: int) -> torch.Tensor:
    """The same formula as `formula`, vectorised in float64 (the entry loop is slow at 512 x 384);
    tests/test_checks.py checks that the two agree."""
    positions = torch.arange(max_length, dtype=torch.float64)[:, None]  # (L, 1)
    pair_dims = 2 * (torch.arange(d) // 2)  # (d,): 0, 0, 2, 2, 4, 4, ...
    angles = positions / 10000 ** (pair_dims.double() / d)  # (L, d)
    return torch.where(torch.arange(d) % 2 == 0, angles.sin(), angles.cos())


def check_module(candidate) -> str:
    if not inspect.isclass(candidate):
        return "a function: no module to check"
    module = candidate(*SMALL)
    learned = [name for name, _ in module.named_parameters()]
    if learned:
        raise CheckFailed(f"the table is an nn.Parameter ({', '.join(learned)}): it is fixed by "
                          "the formula; register it as a buffer, or the optimizer will change it",
                          look_at="__init__", near=("Parameter",))
    name = table_buffer(module)
    with torch.no_grad():
        short = expect_shape(module(torch.Size([3, 7])), (1, 7, SMALL[1]),
                             "the positions of a (3, 7) batch")
    if not close(short[0], formula(7, SMALL[1]), TOLERANCE_SMALL):
        raise CheckFailed("for a batch of 7 tokens the positions are not the table's first 7 rows",
                          near=("return",))
    with torch.no_grad():
        moved = module.to(torch.float64)(torch.Size([3, 7]))
    if moved.dtype != torch.float64:
        raise CheckFailed(f"after module.to(torch.float64) the positions are {moved.dtype}: the "
                          f"table must move with the module, as buffer {name!r} does, and forward "
                          "return it as it is stored (no .float() or new tensor there)",
                          near=("float", "tensor", "return"))
    kept = "in state_dict()" if name in module.state_dict() else "not persistent, like ours: " \
        "derived from the config, it stays out of saved weights"
    return f"a buffer {name!r} ({kept}), moves with .to(); a (B, T) batch gets the first T rows"


def table_buffer(module) -> str:
    """The name of the buffer that holds the (max_length, d) table, or CheckFailed saying where
    the table is instead."""
    for name, buffer in module.named_buffers():
        if tuple(buffer.shape[-2:]) == SMALL:
            return name
    plain = [name for name, value in vars(module).items() if isinstance(value, torch.Tensor)]
    if plain:
        raise CheckFailed(f"the table is a plain attribute, self.{plain[0]}: PyTorch does not know "
                          "it belongs to the module, so it is absent from named_buffers() and "
                          "state_dict(), and .to(torch.float64) or .to('cuda') moves the model but "
                          "leaves it behind; register it: "
                          f"self.register_buffer({plain[0]!r}, table)",
                          look_at="__init__", near=(f"self.{plain[0]}",))
    raise CheckFailed(f"no buffer holds the {SMALL} table: compute it once in __init__ and keep it "
                      "with self.register_buffer('table', table), so that forward only slices it "
                      "and .to() moves it with the module", look_at="__init__")


COMPONENT = Component(
    name="positional",
    writes="a function like minitransformer.model.positional.sinusoidal_table, or a module like "
           "SinusoidalPositionalEncoding",
    ours="minitransformer/model/positional.py:SinusoidalPositionalEncoding",
    signature=Signature(
        "sinusoidal_table(max_length, hidden_size) -> (max_length, d), or a class "
        "SinusoidalPositionalEncoding(max_length, hidden_size) with forward(input_shape (B, T)) "
        "-> (1, T, d)",
        function=(2, ()), methods={"__init__": (2, ()), "forward": (1, ())}),
    checks=[
        Check("shape", check_shape, look_at="forward"),
        Check("the paper's formula, entry by entry", check_formula, look_at="__init__"),
        Check("float64 precision at 512 positions and d = 384", check_large),
        Check("a fixed table in a buffer, the first T rows for T tokens", check_module,
              look_at="forward"),
    ],
)
