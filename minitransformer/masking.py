"""BERT's masked-language-model corruption (Devlin et al. 2019, section 3.1 and appendix A.1).

15 % of the word pieces are chosen; the model must predict the original piece at each chosen
position, and only there is there a loss. A chosen piece is replaced by [MASK] 80 % of the time,
by a random piece 10 %, and left unchanged 10 %: [MASK] never occurs when the encoder is later
used, so the model must not learn that only [MASK] positions matter, and since any piece may be
a replaced one, it has to keep a good representation of every piece. [CLS], [SEP] and padding
are never chosen.
"""

from __future__ import annotations

import zlib

import torch

IGNORE_INDEX = -100  # the label of positions without loss (cross_entropy's default ignore_index)
MASK_PROBABILITY = 0.15
MASK_SHARE, RANDOM_SHARE = 0.8, 0.1  # of the chosen pieces; the remaining 0.1 stay as they are


def mask_tokens(input_ids: torch.Tensor, maskable: torch.Tensor, mask_token_id: int,
                vocab_size: int, generator: torch.Generator | None = None,
                probability: float = MASK_PROBABILITY) -> tuple[torch.Tensor, torch.Tensor]:
    """
    input_ids: (B, T) long; maskable: (B, T) bool, True at real, non-special pieces.
    Returns (corrupted ids (B, T), labels (B, T)): labels hold the original id at the chosen
    positions and IGNORE_INDEX everywhere else. The random draws come from `generator` (None:
    torch's global generator, which the trainer seeds every step).
    """
    def uniform() -> torch.Tensor:  # (B, T) in [0, 1), on the CPU, from the generator
        return torch.rand(input_ids.shape, generator=generator).to(input_ids.device)

    chosen = (uniform() < probability) & maskable
    labels = torch.where(chosen, input_ids, torch.full_like(input_ids, IGNORE_INDEX))
    share = uniform()
    to_mask = chosen & (share < MASK_SHARE)
    to_random = chosen & (share >= MASK_SHARE) & (share < MASK_SHARE + RANDOM_SHARE)
    random_ids = torch.randint(vocab_size, input_ids.shape, generator=generator).to(input_ids.device)
    corrupted = torch.where(to_mask, torch.full_like(input_ids, mask_token_id), input_ids)
    corrupted = torch.where(to_random, random_ids, corrupted)
    return corrupted, labels


def generator_for(input_ids: torch.Tensor, seed: int = 0) -> torch.Generator:
    """A generator seeded by the batch's content: evaluating the same text masks the same
    positions every time, whatever else runs, so dev metrics are comparable across epochs."""
    content = input_ids.detach().cpu().numpy().tobytes()
    return torch.Generator().manual_seed(seed * 1_000_003 + zlib.crc32(content))
