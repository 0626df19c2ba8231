"""PaddingCount: how much of the training batches was padding, for run.json and the last line.

The reference and length-grouped batching compute every token position in every layer; the
packed path computes only the real tokens outside attention, so the share tells what packing
saves on this data.
"""

from __future__ import annotations

from .base import Callback


class PaddingCount(Callback):
    def __init__(self):
        # Token positions of this session's training batches: real tokens, and all positions
        # (padding included, both sides of a pair).
        self.real_tokens, self.token_positions = 0, 0

    def on_step_begin(self, trainer, tasks: list[str], batches: list[dict]) -> None:
        for name, batch in zip(tasks, batches):
            kind = trainer.task_by_name[name].spec.task_kind
            real, positions = kind.count_tokens(batch)
            self.real_tokens += real
            self.token_positions += positions

    def fraction(self) -> float | None:
        """The share of this session's token positions that were padding; None before a step."""
        if self.token_positions == 0:
            return None
        return 1.0 - self.real_tokens / self.token_positions
