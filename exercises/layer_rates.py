"""Exercise 7: the optimizer's layer-wise learning rates (Howard & Ruder 2018).

When fine-tuning a pretrained encoder, the lower layers hold general features worth keeping
and the upper ones are closest to the task. So each depth gets its own rate:

    depth 0 = embeddings, depth k = encoder layer k (1..N), the pre-norm final LayerNorm at N
    a parameter at depth k trains at  lr * layer_decay ** (N - k)

The heads start from random, so they train faster: at head_lr when it is given, else at
10 x lr (what `python train.py --print-param-groups` shows, and train.py's --head-lr sets).

Weight decay only on matrices (2 or more dimensions): pulling biases and LayerNorm gains
toward 0 means nothing. Frozen parameters (requires_grad False) belong in no group.

Work in your copy (cp -r exercises mywork, once), and check it there:
    python -m minitransformer.check layer_rates mywork/layer_rates.py:parameter_groups
"""

from torch import nn


def parameter_groups(model: nn.Module, lr: float, weight_decay: float = 0.01,
                     layer_decay: float = 1.0, head_lr: float | None = None) -> list[dict]:
    """Groups for torch.optim.AdamW: a list of {"params": [...], "lr": ..., "weight_decay": ...}.

    model's parameters are named encoder.embeddings.*, encoder.layers.{i}.* (i = 0..N-1, so
    depth i + 1), encoder.final_norm.* and heads.{task}.*; N is model.encoder.config.num_layers.
    One group per parameter is allowed; grouping those with equal settings is tidier.
    """
    raise NotImplementedError("parameter_groups")
