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
    # A row with pieces to mask but none chosen gets one (as BERT's max(1, 15 %)): a short
    # text still teaches something, and a small dev set always has pieces to score.
    unlucky = maskable.any(dim=1) & ~chosen.any(dim=1)  # (B,)
    if unlucky.any():
        pick = (uniform() * maskable).argmax(dim=1)  # a random maskable position per row
        chosen[unlucky, pick[unlucky]] = True
    labels = torch.where(chosen, input_ids, torch.full_like(input_ids, IGNORE_INDEX))
    share = uniform()
    to_mask = chosen & (share < MASK_SHARE)
    to_random = chosen & (share >= MASK_SHARE) & (share < MASK_SHARE + RANDOM_SHARE)
    random_ids = torch.randint(vocab_size, input_ids.shape,
                               generator=generator).to(input_ids.device)
    corrupted = torch.where(to_mask, torch.full_like(input_ids, mask_token_id), input_ids)
    corrupted = torch.where(to_random, random_ids, corrupted)
    return corrupted, labels


def mask_by_content(input_ids: torch.Tensor, attention_mask: torch.Tensor, maskable: torch.Tensor,
                    mask_token_id: int, vocab_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """`mask_tokens` for evaluation: each row's draws are seeded by that row's own pieces, so a
    text is masked the same way every time, whatever batch or batch size it comes in, and dev
    metrics are comparable from one evaluation to the next. (B, T) in, (B, T) twice out."""
    corrupted, labels = input_ids.clone(), torch.full_like(input_ids, IGNORE_INDEX)
    for row in range(len(input_ids)):
        real = attention_mask[row].bool()
        ids = input_ids[row, real]  # (T_row,), no padding
        content = ids.detach().cpu().numpy().tobytes()
        generator = torch.Generator().manual_seed(zlib.crc32(content))
        row_corrupted, row_labels = mask_tokens(ids[None], maskable[row, real][None], mask_token_id,
                                                vocab_size, generator)
        corrupted[row, real], labels[row, real] = row_corrupted[0], row_labels[0]
    return corrupted, labels
