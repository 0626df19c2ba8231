"""A learner's solution of exercises/cosent.py, written apart from the package's."""

import torch


def cosent_loss(cosines: torch.Tensor, scores: torch.Tensor, scale: float = 20.0) -> torch.Tensor:
    differences = scale * (cosines[None, :] - cosines[:, None])  # [i, j] = s (cos_j - cos_i)
    ordered = scores[:, None] > scores[None, :]  # [i, j]: gold_i > gold_j
    terms = differences[ordered]
    one = torch.zeros(1, dtype=terms.dtype)  # exp(0) = 1, the "1 +"
    return torch.logsumexp(torch.cat([one, terms]), dim=0)
