"""Write the tiny random BERT with its masked-LM head that tests/test_masked_lm_parity.py checks.

The original is HF `transformers`' BertForMaskedLM, randomly initialised (seed 0) at a tiny size;
its directory and the logits it gives for a few fixed token-id sequences are stored, so the
parity test needs no `transformers` itself. Run from the repository root, in an environment
with the [reference] (or [test]) extra:

    python tools/make_mlm_fixture.py

It writes
    tests/fixtures/tiny_bert_mlm/                config.json, model.safetensors (encoder and
                                                 cls.predictions.*), vocab.txt
    tests/fixtures/tiny_bert_mlm_reference.safetensors
        input_ids, attention_mask  int64 (3, 12)   three sequences, the last two padded
        logits                     float32 (3, 12, V)  BertForMaskedLM's prediction scores
"""

from __future__ import annotations

import json
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
import transformers  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "fixtures" / "tiny_bert_mlm"
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [
    "the", "a", "cat", "dog", "sat", "on", "mat", "ran", "in", "park", "##s", "##ed", ".", ",",
    "and", "big", "small", "red", "blue", "house", "tree", "saw", "bird", "sang", "loud", "##ly"]


def main() -> None:
    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=len(VOCAB), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=64, max_position_embeddings=32, type_vocab_size=2,
        hidden_act="gelu", layer_norm_eps=1e-12)
    model = transformers.BertForMaskedLM(config).eval()
    with torch.no_grad():  # a visible bias and LayerNorm: zeros and ones would hide a mix-up
        model.cls.predictions.bias.normal_(std=0.5)
        model.cls.predictions.transform.LayerNorm.weight.normal_(1.0, 0.2)
        model.cls.predictions.transform.LayerNorm.bias.normal_(std=0.2)
    OUT.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(OUT, safe_serialization=True)
    (OUT / "vocab.txt").write_text("".join(token + "\n" for token in VOCAB), encoding="utf-8")
    for extra in ("generation_config.json",):
        (OUT / extra).unlink(missing_ok=True)

    ids = torch.tensor([[2, 5, 7, 9, 10, 5, 11, 17, 3, 0, 0, 0][:12],
                        [2, 6, 8, 4, 13, 14, 3, 0, 0, 0, 0, 0],
                        [2, 20, 21, 27, 4, 28, 29, 30, 17, 4, 18, 3]])
    mask = (ids != 0).long()
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=mask).logits
    save_file({"input_ids": ids, "attention_mask": mask, "logits": logits.contiguous()},
              str(ROOT / "tests" / "fixtures" / "tiny_bert_mlm_reference.safetensors"),
              metadata={"transformers": transformers.__version__, "torch": torch.__version__})
    print(json.dumps({"vocab": len(VOCAB), "logits": list(logits.shape),
                      "files": sorted(p.name for p in OUT.iterdir())}))


if __name__ == "__main__":
    main()
