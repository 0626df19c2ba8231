"""Exercise 6: the CoSENT loss (Su 2022), how the sentence-similarity task trains the encoder.

A batch holds B sentence pairs, the cosine of each pair's embeddings, and a gold similarity
score per pair. CoSENT asks only that pairs with a higher gold score get a higher cosine:

    loss = log(1 + sum over (i, j) with gold_i > gold_j of exp(scale * (cos_j - cos_i)))

Work in your copy (cp -r exercises mywork, once), and check it there:
    python -m minitransformer.check cosent mywork/cosent.py:cosent_loss
"""

import torch


def cosent_loss(cosines: torch.Tensor, scores: torch.Tensor, scale: float = 20.0) -> torch.Tensor:
    """
    cosines: (B,) the cosine similarity of each pair; scores: (B,) the gold scores.
    Returns the loss, a 0-dim tensor through which gradients flow to the cosines.

    Hints: a (B, B) matrix of all differences cos_j - cos_i by broadcasting; a (B, B) boolean
    matrix of the pairs that count; exp(100) is beyond float32, so think of torch.logsumexp,
    and of where the "1 +" goes.
    """
    raise NotImplementedError("cosent_loss")
