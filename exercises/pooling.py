"""Exercise 3: mean pooling, from token states to one sentence vector.

An encoder gives one vector per token; a sentence embedding is one vector per sentence.
Averaging the token states works well (Reimers & Gurevych 2019), but a batch pads its short
sentences, and the padded positions hold states too. First write the plain mean and watch the
check fail on padding; then leave the padding out.

Work in your copy (cp -r exercises mywork, once), and check it there:
    python -m minitransformer.check pooling mywork/pooling.py:mean_pooling
"""

import torch


def mean_pooling(states: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """
    states: (B, T, d) token states; attention_mask: (B, T), 1 for a real token, 0 for padding
    (any dtype: long from the tokenizer, bool, float).
    Returns (B, d): for each sentence, the mean of its real tokens' states. A sentence with no
    real token gets a vector of zeros, not NaN. The inputs must not be changed.
    """
    raise NotImplementedError("mean_pooling: average the real tokens' states")
