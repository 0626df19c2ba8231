"""Masked-language modelling: BERT's 15 % / 80-10-10 corruption, a loss only at the chosen pieces,
a decoder tied to the token embeddings, and a tiny model whose masked-piece loss falls."""

import json
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from conftest import CORPUS, make_encoder

from minitransformer.bert_format import export_bert, read_bert_encoder, read_mlm_head_weights
from minitransformer.errors import InputError
from minitransformer.export import main as export_main
from minitransformer.loading import load_model_with_heads
from minitransformer.model.tokenizer import SPECIAL_TOKENS, Tokenizer
from minitransformer.sentence import SentenceEncoder
from minitransformer.storage.safetensors_io import read_safetensors
from minitransformer.tasks.data import TaskSpec, load_task
from minitransformer.tasks.heads import MaskedLanguageModelHead, MultiTaskModel, build_head
from minitransformer.tasks.kinds import MASKED_LM, get_kind
from minitransformer.tasks.masking import IGNORE_INDEX, mask_by_content, mask_tokens
from minitransformer.tasks.scoring import score_dataset
from minitransformer.training.trainer import Trainer, TrainingOptions

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import train  # noqa: E402

VOCAB, MASK_ID = 1000, 4


def many_pieces(seed=0):
    """(200, 100) ids in [5, VOCAB); the first and last column play [CLS] and [SEP], the last
    20 columns of every other row are padding: all three must never be chosen."""
    ids = torch.randint(5, VOCAB, (200, 100), generator=torch.Generator().manual_seed(seed))
    maskable = torch.ones_like(ids, dtype=torch.bool)
    maskable[:, 0] = maskable[:, -1] = False
    maskable[::2, -20:] = False
    return ids, maskable


def test_fifteen_percent_chosen_then_80_10_10_and_never_a_special_or_padding():
    ids, maskable = many_pieces()
    corrupted, labels = mask_tokens(ids, maskable, MASK_ID, VOCAB, torch.Generator().manual_seed(1))
    chosen = labels != IGNORE_INDEX
    assert not chosen[~maskable].any()  # specials and padding: never
    assert torch.equal(labels[chosen], ids[chosen])  # the target is the original piece
    assert torch.equal(corrupted[~chosen], ids[~chosen])  # the rest is untouched
    n = chosen.sum().item()
    assert abs(n / maskable.sum().item() - 0.15) < 0.01  # 0.15 of ~17,000 maskable pieces
    masked = (corrupted[chosen] == MASK_ID).float().mean().item()
    kept = (corrupted[chosen] == ids[chosen]).float().mean().item()  # "unchanged", and random hits
    assert abs(masked - 0.8) < 0.02 and abs(kept - 0.1) < 0.015
    assert abs((1 - masked - kept) - 0.1) < 0.015  # replaced by another random piece


def test_masking_is_seeded():
    ids, maskable = many_pieces()
    first = mask_tokens(ids, maskable, MASK_ID, VOCAB, torch.Generator().manual_seed(7))
    again = mask_tokens(ids, maskable, MASK_ID, VOCAB, torch.Generator().manual_seed(7))
    other = mask_tokens(ids, maskable, MASK_ID, VOCAB, torch.Generator().manual_seed(8))
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not torch.equal(first[1], other[1])


def test_evaluation_masks_depend_on_each_text_only(tokenizer):
    batch = batch_of(tokenizer, CORPUS)  # padded to the longest
    arguments = (tokenizer.token_id("[MASK]"), tokenizer.vocab_size)
    together = mask_by_content(batch["input_ids"], batch["attention_mask"], batch["maskable"],
                               *arguments)
    for row, text in enumerate(CORPUS):  # each text alone, unpadded: the same pieces masked
        alone = batch_of(tokenizer, [text])
        corrupted, labels = mask_by_content(alone["input_ids"], alone["attention_mask"],
                                            alone["maskable"], *arguments)
        length = alone["input_ids"].shape[1]
        assert torch.equal(labels[0], together[1][row, :length])
        assert torch.equal(corrupted[0], together[0][row, :length])
        assert (together[1][row, length:] == IGNORE_INDEX).all()


def test_every_row_with_a_maskable_piece_gets_one():
    ids = torch.arange(5, 5 + 3 * 4).view(3, 4)  # three rows of four pieces
    maskable = torch.tensor([[False, True, True, False], [False, True, False, False],
                             [False, False, False, False]])
    for seed in range(50):  # with 15 %, a row of 1 or 2 pieces is often left without one
        _, labels = mask_tokens(ids, maskable, MASK_ID, VOCAB, torch.Generator().manual_seed(seed))
        chosen = labels != IGNORE_INDEX
        assert chosen[0].any() and chosen[1].any() and not chosen[2].any()
        assert not chosen[~maskable].any()


@pytest.fixture
def mlm_model(tokenizer):
    encoder = make_encoder(tokenizer.vocab_size)
    head = build_head(MASKED_LM, encoder.config, tokenizer)
    return MultiTaskModel(encoder, {"mlm": head})


def batch_of(tokenizer, texts):
    return get_kind(MASKED_LM).collate([{"input_ids": ids} for ids in tokenizer.tokenize(texts)],
                                       tokenizer)


def test_the_head_knows_the_mask_id_and_the_batch_carries_no_constants(mlm_model, tokenizer):
    head = mlm_model.heads["mlm"]
    assert head.mask_id == SPECIAL_TOKENS.index("[MASK]") == 4  # Tokenizer.train's order
    assert head.vocab_size == tokenizer.vocab_size
    assert type(head.mask_id) is int and type(head.vocab_size) is int  # no tensor to read back
    assert set(batch_of(tokenizer, CORPUS[:2])) == {"input_ids", "attention_mask", "maskable"}
    assert not any(name.endswith(("mask_id", "vocab_size")) for name in head.state_dict())


def test_a_vocabulary_without_mask_gets_no_masked_lm_head(tmp_path):
    vocabulary = [token for token in SPECIAL_TOKENS if token != "[MASK]"] + ["the", "cat"]
    (tmp_path / "vocab.txt").write_text("\n".join(vocabulary) + "\n", encoding="utf-8")
    no_mask = Tokenizer.from_vocab(tmp_path / "vocab.txt")
    with pytest.raises(InputError, match="needs a \\[MASK\\] token"):
        build_head(MASKED_LM, make_encoder(no_mask.vocab_size).config, no_mask)


def test_loss_only_at_the_chosen_pieces(mlm_model, tokenizer):
    mlm_model.eval()  # masks from the batch's content: the test can recompute them
    batch = batch_of(tokenizer, CORPUS)
    assert not batch["maskable"][:, 0].any()  # [CLS]
    output = mlm_model("mlm", batch)
    corrupted, labels = mask_by_content(batch["input_ids"], batch["attention_mask"],
                                        batch["maskable"], tokenizer.token_id("[MASK]"),
                                        tokenizer.vocab_size)
    with torch.no_grad():  # every position's logits, then cross-entropy that skips IGNORE_INDEX
        states = mlm_model.encoder(corrupted, batch["attention_mask"])
        logits = mlm_model.heads["mlm"](states, mlm_model.encoder.embeddings.token.weight)
    expected = F.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=IGNORE_INDEX)
    torch.testing.assert_close(output.loss, expected)
    chosen = labels != IGNORE_INDEX  # the predictions: one per chosen piece, in reading order
    assert torch.equal(output.predictions.gold_ids, labels[chosen])
    assert torch.equal(output.predictions.predicted_ids, logits[chosen].argmax(dim=-1))
    torch.testing.assert_close(output.predictions.gold_log_probabilities,
                               logits[chosen].log_softmax(-1).gather(1, labels[chosen, None])[:, 0])


def test_the_decoder_is_the_token_embedding_table(mlm_model, tokenizer):
    head = mlm_model.heads["mlm"]
    config = mlm_model.encoder.config
    assert all(p.shape != (config.vocab_size, config.hidden_size) for p in head.parameters())
    table = mlm_model.encoder.embeddings.token.weight
    assert sum(p is table for p in mlm_model.parameters()) == 1  # one tensor, one parameter
    mlm_model.train()
    torch.manual_seed(0)
    output = mlm_model("mlm", batch_of(tokenizer, CORPUS))
    output.loss.backward()
    gold = output.predictions.gold_ids.unique()
    states = torch.randn(3, config.hidden_size)
    before = head(states, table).detach()
    with torch.no_grad():
        table[gold[0]] += 1.0  # a change of the table is a change of the decoder
    assert not torch.equal(head(states, table)[:, gold[0]], before[:, gold[0]])
    assert table.grad[gold].abs().sum() > 0


def test_a_tiny_model_learns_to_fill_in_pieces(tokenizer, tmp_path):
    train, dev = tmp_path / "train.txt", tmp_path / "dev.txt"
    train.write_text("\n".join(CORPUS * 16) + "\n", encoding="utf-8")
    dev.write_text("\n".join(CORPUS) + "\n", encoding="utf-8")
    task = load_task(TaskSpec("mlm", MASKED_LM, train, dev), tokenizer)
    encoder = make_encoder(tokenizer.vocab_size)
    model = MultiTaskModel(encoder, {"mlm": build_head(MASKED_LM, encoder.config, tokenizer)})
    before = score_dataset(model, "mlm", task.dev, None, 64)
    options = TrainingOptions(epochs=4, batch_size=8, lr=1e-2, warmup=0.0, seed=0)
    trainer = Trainer(model, tokenizer, [task], options, tmp_path / "run", log=lambda *a: None,
                      progress="off")
    trainer.train()
    losses = trainer.state.losses
    assert len(losses) == 4 * 16  # 128 texts / 8 per step, 4 epochs
    # From about ln(120) = 4.8 (a uniform guess over the vocabulary) to about 3.9.
    assert sum(losses[-8:]) / 8 < 0.88 * sum(losses[:8]) / 8
    after = score_dataset(model, "mlm", task.dev, None, 64)
    assert after["masked_lm_loss"] < before["masked_lm_loss"] - 0.5
    assert after["perplexity"] == pytest.approx(torch.tensor(after["masked_lm_loss"]).exp().item())
    # The run's checkpoint keeps the head; the same text scores the same after loading, and
    # after an export (sinusoidal positions: the token table and the head are rescaled).
    last = score_dataset(model, "mlm", task.dev, None, 64)
    reloaded, _, description = load_model_with_heads(tmp_path / "run" / "last")
    assert isinstance(reloaded.heads["mlm"], MaskedLanguageModelHead)
    assert description["tasks"][0]["label_map"] is None
    assert score_dataset(reloaded, "mlm", task.dev, None, 64) == pytest.approx(last)
    (tmp_path / "run" / "best").rename(tmp_path / "run" / "kept")
    assert export_main([str(tmp_path / "run" / "last"), str(tmp_path / "exported")]) == 0
    exported, _, _ = load_model_with_heads(tmp_path / "exported")
    assert exported.encoder.config.positional == "learned"
    assert score_dataset(exported, "mlm", task.dev, None, 64) == pytest.approx(last, rel=1e-5)
    json.dumps(after)  # plain floats


# ---- BERT's own masked-LM head -----------------------------------------------------------------
FIXTURES = Path(__file__).resolve().parent / "fixtures"
TINY_BERT = FIXTURES / "tiny_bert_mlm"  # written by tools/make_mlm_fixture.py (HF BertForMaskedLM)


def tiny_bert_with_head():
    encoder, _ = read_bert_encoder(TINY_BERT)
    head = build_head(MASKED_LM, encoder.config, Tokenizer.from_vocab(TINY_BERT / "vocab.txt"))
    head.eval()
    head.load_state_dict(read_mlm_head_weights(TINY_BERT))
    return encoder, head


def test_bert_masked_lm_logits_match_hf():
    reference = read_safetensors(FIXTURES / "tiny_bert_mlm_reference.safetensors")
    encoder, head = tiny_bert_with_head()
    ids, mask = reference["input_ids"], reference["attention_mask"]
    with torch.no_grad():
        logits = head(encoder(ids, mask), encoder.embeddings.token.weight)  # (3, 12, V)
    real = mask.bool()
    worst = (logits[real] - reference["logits"][real]).abs().max().item()
    assert worst <= 1e-5, f"masked-LM logits differ from BertForMaskedLM's by {worst:.2e}"
    # Not by accident: without the checkpoint's head the logits are far off.
    fresh = build_head(MASKED_LM, encoder.config, Tokenizer.from_vocab(TINY_BERT / "vocab.txt"))
    with torch.no_grad():
        assert (fresh(encoder(ids, mask), encoder.embeddings.token.weight)[real]
                - reference["logits"][real]).abs().max() > 0.1


def test_a_run_from_a_bert_checkpoint_starts_with_its_head_and_exports_it(tmp_path):
    encoder, head = tiny_bert_with_head()
    tokenizer = Tokenizer.from_vocab(TINY_BERT / "vocab.txt")
    text = tmp_path / "text.txt"
    text.write_text("the cat sat on the mat .\na big dog ran in the park .\n", encoding="utf-8")
    config = {"tasks": [{"name": "mlm", "kind": "masked_lm", "train": str(text), "dev": str(text)}]}
    (tmp_path / "mlm.json").write_text(json.dumps(config), encoding="utf-8")
    assert train.main(["--config", str(tmp_path / "mlm.json"), "--init", str(TINY_BERT),
                       "--epochs", "1", "--lr", "1e-12", "--run-dir", str(tmp_path / "run"),
                       "--progress", "off"]) == 0
    model, _, _ = load_model_with_heads(tmp_path / "run" / "best")
    for name, tensor in head.state_dict().items():  # lr ~0: still the checkpoint's head
        torch.testing.assert_close(model.heads["mlm"].state_dict()[name], tensor, atol=1e-9, rtol=0)
    assert export_main([str(tmp_path / "run"), str(tmp_path / "out")]) == 0
    exported = read_mlm_head_weights(tmp_path / "out")
    for name, tensor in model.heads["mlm"].state_dict().items():
        assert torch.equal(exported[name], tensor), name
    assert tokenizer.vocab_size == encoder.config.vocab_size


def test_hf_loads_our_exported_masked_lm_head(tmp_path, tokenizer):
    """Our own head, trained from scratch on sinusoidal positions, exported as BERT's: the same
    logits in BertForMaskedLM."""
    transformers = pytest.importorskip("transformers", reason="transformers is in the [test] extra")
    encoder = make_encoder(tokenizer.vocab_size)  # sinusoidal, post-norm
    head = build_head(MASKED_LM, encoder.config, tokenizer).eval()
    with torch.no_grad():
        for parameter in head.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.3)
    export_bert(SentenceEncoder(tokenizer, encoder), tmp_path / "out", mlm_head=head)
    hf = transformers.BertForMaskedLM.from_pretrained(str(tmp_path / "out")).eval()
    batch = tokenizer(CORPUS[:3])
    with torch.no_grad():
        ours = head(encoder(batch["input_ids"], batch["attention_mask"]),
                    encoder.embeddings.token.weight)
        theirs = hf(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    real = batch["attention_mask"].bool()
    assert (ours[real] - theirs[real]).abs().max() <= 1e-5, (ours[real] - theirs[real]).abs().max()
