"""Two CPU processes under torchrun (gloo) train exactly like one process on the same batch."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from test_trainer import ROWS

from minitransformer.model.tokenizer import Tokenizer
from minitransformer.storage.safetensors_io import read_safetensors
from minitransformer.training.progress import read_metrics

WORKER = Path(__file__).parent / "ddp_worker.py"


def run_workers(workdir: Path, process_counts: list[int]) -> None:
    """One training per count, all at once (one thread each; they write different files)."""
    environment = {**os.environ, "OMP_NUM_THREADS": "1",
                   "PYTHONPATH": os.pathsep.join([str(WORKER.parent), str(WORKER.parent.parent)])}
    started = []
    for processes in process_counts:
        launcher = [] if processes == 1 else [
            "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"]
        started.append(subprocess.Popen([sys.executable, *launcher, str(WORKER), str(workdir)],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                        env=environment))
    for process in started:
        stdout, stderr = process.communicate(timeout=240)
        assert process.returncode == 0, stdout[-2000:] + stderr[-4000:]


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed not built in")
def test_two_processes_match_one_process_on_the_same_global_batch(tmp_path):
    Tokenizer.train([text for text, _, _ in ROWS], vocab_size=200,
                    min_frequency=1).save(tmp_path / "tokenizer")
    (tmp_path / "data.jsonl").write_text("".join(
        json.dumps({"text": t, "topic": a, "sentiment": b}) + "\n" for t, a, b in ROWS))
    run_workers(tmp_path, [1, 2])

    single = read_safetensors(tmp_path / "out-1-rank0.safetensors")
    rank0 = read_safetensors(tmp_path / "out-2-rank0.safetensors")
    rank1 = read_safetensors(tmp_path / "out-2-rank1.safetensors")
    for name in single:
        assert torch.equal(rank0[name], rank1[name]), name  # the replicas never drift apart
        torch.testing.assert_close(rank0[name], single[name], rtol=1e-4, atol=1e-5, msg=name)
    losses_1 = json.loads((tmp_path / "out-1-rank0.json").read_text())["losses"]
    losses_2 = json.loads((tmp_path / "out-2-rank0.json").read_text())["losses"]
    assert len(losses_1) == len(losses_2) == 8
    assert losses_2 == pytest.approx(losses_1, rel=1e-4)
    # Only rank 0 writes checkpoints and the metrics log (one evaluation record per epoch).
    assert sorted(p.name for p in (tmp_path / "run-2").iterdir()) == [
        "best", "last", "metrics.jsonl"]
    records = read_metrics(tmp_path / "run-2" / "metrics.jsonl")
    assert len([r for r in records if r["type"] == "eval"]) == len(
        [r for r in read_metrics(tmp_path / "run-1" / "metrics.jsonl") if r["type"] == "eval"])
