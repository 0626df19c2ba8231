"""A learner's solution of exercises/layer_rates.py, written apart from the package's."""

from torch import nn


def parameter_groups(model: nn.Module, lr: float, weight_decay: float = 0.01,
                     layer_decay: float = 1.0, head_lr: float | None = None) -> list[dict]:
    num_layers = model.encoder.config.num_layers
    heads_rate = head_lr if head_lr is not None else 10 * lr
    groups = {}
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        if name.startswith("encoder.embeddings."):
            rate = lr * layer_decay ** num_layers
        elif name.startswith("encoder.layers."):
            depth = int(name.split(".")[2]) + 1
            rate = lr * layer_decay ** (num_layers - depth)
        elif name.startswith("encoder.final_norm."):
            rate = lr
        else:
            rate = heads_rate
        decay = weight_decay if parameter.dim() >= 2 else 0.0
        groups.setdefault((rate, decay), []).append(parameter)
    return [{"params": params, "lr": rate, "weight_decay": decay}
            for (rate, decay), params in groups.items()]
