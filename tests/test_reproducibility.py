"""Same seed, same run: two train.py processes from the same BERT-format start and seed give the
same losses and the same final weights, heads included; another seed gives others.

The start is a tiny BERT directory written here (export_bert), with dropout on, so that the
heads' initialisation, the subsample, the data order, the task sampler and the dropout masks
all have to repeat.
"""

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch
from conftest import make_encoder

from minitransformer.bert_format import export_bert
from minitransformer.sentence import SentenceEncoder
from minitransformer.storage.safetensors_io import read_safetensors

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import train as train_command  # noqa: E402


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tokenizer):
    """{name: run directory} for seed 7 twice, each in its own process, and seed 8 once (in this
    process: it only has to differ)."""
    place = tmp_path_factory.mktemp("repro")
    encoder = make_encoder(tokenizer.vocab_size, positional="learned", segment_vocab_size=2,
                           dropout=0.1, attention_dropout=0.1)
    export_bert(SentenceEncoder(tokenizer, encoder), place / "bert")

    def arguments(name, seed):
        return ["--init", str(place / "bert"), "--seed", str(seed), "--epochs", "2",
                "--batch-size", "8", "--max-train", "48", "--sampler", "temperature",
                "--run-dir", str(place / name), "--progress", "off"]

    def train_in_a_process(name_and_seed):
        # One thread each: the processes share the cores instead of fighting over them.
        result = subprocess.run([sys.executable, "train.py", *arguments(*name_and_seed)], cwd=ROOT,
                                capture_output=True, text=True, timeout=300,
                                env={**os.environ, "OMP_NUM_THREADS": "1"})
        assert result.returncode == 0, result.stderr
        return name_and_seed[0], place / name_and_seed[0]

    threads = torch.get_num_threads()
    # One thread here too: on a 2-core machine (CI) a 2-thread run beside the two 1-thread
    # processes waits on its own threads at every operation (10 s for this fixture, not 6).
    torch.set_num_threads(1)
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            started = pool.map(train_in_a_process, [("first", 7), ("again", 7)])
            assert train_command.main(arguments("other", 8)) == 0
            return {**dict(started), "other": place / "other"}
    finally:
        torch.set_num_threads(threads)


def losses(run: Path) -> list[float]:
    return torch.load(run / "last" / "training_state.pt", weights_only=True)["losses"]


def weights(run: Path) -> dict[str, torch.Tensor]:
    return read_safetensors(run / "last" / "model.safetensors")


def test_same_seed_gives_the_same_losses_and_weights(runs):
    assert len(losses(runs["first"])) == 2 * (6 + 6)  # 2 epochs, 48 / 8 steps for each task
    assert losses(runs["first"]) == losses(runs["again"])
    first, again = weights(runs["first"]), weights(runs["again"])
    assert first.keys() == again.keys() and any(name.startswith("heads.") for name in first)
    for name in first:
        assert torch.equal(first[name], again[name]), name


def test_another_seed_gives_another_run(runs):
    assert losses(runs["first"]) != losses(runs["other"])
    first, other = weights(runs["first"]), weights(runs["other"])
    assert not torch.equal(first["heads.topic.classifier.weight"],
                           other["heads.topic.classifier.weight"])
