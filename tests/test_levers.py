"""The levers that act under clipping (issue 30), each checked on its effect on one step:
per-task step scales, distillation toward the starting encoder, mixed-task steps and PCGrad."""

import argparse
import copy
import json

import pytest
import torch
import torch.nn.functional as F
from conftest import make_encoder
from test_trainer import ROWS, make_trainer

from minitransformer.errors import InputError
from minitransformer.loading import load_model
from minitransformer.model.tokenizer import Tokenizer
from minitransformer.sentence import SentenceEncoder
from minitransformer.tasks.data import TaskSpec
from minitransformer.training.gradient_surgery import combine_gradients, pcgrad
from minitransformer.training.options import TrainingOptions, check_run_options
from minitransformer.training.run_config import add_option_flags, merged_options
from minitransformer.training.start import Start, distillation_target

FLIPPED = {"positive": "negative", "negative": "positive"}


@pytest.fixture(scope="module")
def tokenizer():
    return Tokenizer.train([text for text, _, _ in ROWS], vocab_size=200, min_frequency=1)


@pytest.fixture
def task_files(tmp_path):
    """topic and sentiment, as in test_trainer; `flipped` is sentiment with the labels swapped,
    a task that conflicts with sentiment by construction."""
    path = tmp_path / "data.jsonl"
    path.write_text("".join(json.dumps({"text": t, "topic": a, "sentiment": b,
                                        "flipped": FLIPPED[b]}) + "\n" for t, a, b in ROWS))
    return [TaskSpec(name, "sentence_classification", path, path, label_field=name)
            for name in ("topic", "sentiment", "flipped")]


def first_batch(trainer, name: str, size: int = 4) -> dict:
    data = trainer.task_by_name[name].train
    return data.collate([data[i] for i in range(size)])


def snapshot(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in module.named_parameters()}


# ---- 1. step scales ---------------------------------------------------------------------------
def test_a_step_scale_multiplies_the_encoder_update_exactly(tokenizer, task_files, tmp_path):
    # Two identical trainers; a sentiment step first (unscaled in both: an Adam state that is
    # not the first step's), then a topic step that one of them scales by 2.5.
    specs = task_files[:2]
    plain = make_trainer(tokenizer, specs, tmp_path / "a")
    scaled = make_trainer(tokenizer, specs, tmp_path / "b", step_scales={"topic": 2.5})
    for trainer in (plain, scaled):
        trainer._step("sentiment", first_batch(trainer, "sentiment"))
    assert all(torch.equal(a, b) for a, b in zip(plain.model.parameters(),
                                                 scaled.model.parameters()))
    before = snapshot(plain.model)
    for trainer in (plain, scaled):
        trainer._step("topic", first_batch(trainer, "topic"))
    moved_plain = {n: p.detach() - before[n] for n, p in plain.model.named_parameters()}
    moved_scaled = {n: p.detach() - before[n] for n, p in scaled.model.named_parameters()}
    for name in before:
        if name.startswith("encoder."):  # the whole AdamW update, weight decay included, x 2.5
            assert moved_plain[name].abs().max() > 0, name
            # Exact up to float32 rounding of the parameters themselves (|p| <= ~1, an ulp
            # ~1.2e-7), against movements of ~1e-3: a 1e-6 tolerance is 0.1 % of a step.
            torch.testing.assert_close(moved_scaled[name], 2.5 * moved_plain[name],
                                       rtol=1e-5, atol=1e-6, msg=name)
        else:  # the heads keep their own rate
            torch.testing.assert_close(moved_scaled[name], moved_plain[name], msg=name)
    # Adam's moments do not depend on the rate: both trainers hold the same state.
    for p, q in zip(plain.model.parameters(), scaled.model.parameters()):
        for key in ("exp_avg", "exp_avg_sq"):
            torch.testing.assert_close(scaled.optimizer.state[q][key],
                                       plain.optimizer.state[p][key])
    # The scale lasts one step: the next step's rates come from the schedule again.
    for trainer in (plain, scaled):
        trainer._begin_step()
    assert [g["lr"] for g in scaled.optimizer.param_groups] == \
        [g["lr"] for g in plain.optimizer.param_groups]


def test_a_scaled_gradient_would_not_do_it(tokenizer, task_files, tmp_path):
    # Why the rate and not the gradient (step_scaling.py): on Adam's first step a gradient
    # times 2.5 gives the same update, g / |g| (eps made negligible beside the tiny model's
    # smallest gradients), so the test above tells the two designs apart.
    trainer = make_trainer(tokenizer, task_files[:2], tmp_path / "a", weight_decay=0.0)
    other = copy.deepcopy(trainer.model)
    optimizers = [torch.optim.AdamW(m.encoder.parameters(), lr=1e-3, weight_decay=0.0, eps=1e-20)
                  for m in (trainer.model, other)]
    batch = first_batch(trainer, "topic")
    before = snapshot(trainer.model.encoder)
    for model, optimizer, factor in zip((trainer.model, other), optimizers, (1.0, 2.5)):
        (factor * model("topic", batch).loss).backward()
        optimizer.step()
    for (name, p), q in zip(trainer.model.encoder.named_parameters(), other.encoder.parameters()):
        if name.endswith("key.bias"):  # no gradient but rounding noise: softmax ignores it
            continue
        torch.testing.assert_close(q - before[name], p - before[name], rtol=1e-5, atol=1e-6,
                                   msg=name)


def test_step_scales_come_from_flags_and_config_and_are_checked(tokenizer, task_files, tmp_path):
    parser = argparse.ArgumentParser()
    add_option_flags(parser)
    flags = vars(parser.parse_args(["--step-scale", "stsb=2", "--distill-weight", "0.1",
                                    "--tasks-per-step", "2", "--gradient-surgery", "pcgrad"]))
    options = merged_options({"options": {"step_scales": {"stsb": 3, "sst2": 0.5}}}, flags,
                             "minilm")
    assert options.step_scales == {"stsb": 2.0, "sst2": 0.5}  # a flag replaces that task's only
    assert (options.distill_weight, options.tasks_per_step, options.gradient_surgery) == \
        (0.1, 2, "pcgrad")
    with pytest.raises(InputError, match="--step-scale takes TASK=NUMBER"):
        merged_options({}, vars(parser.parse_args(["--step-scale", "stsb"])), "minilm")
    with pytest.raises(InputError, match="--step-scale must be an object of task names"):
        merged_options({}, vars(parser.parse_args(["--step-scale", "stsb=-1"])), "minilm")
    with pytest.raises(InputError, match="--step-scale for unknown task"):
        check_run_options(TrainingOptions(step_scales={"stsb": 2.0}), ["topic", "sentiment"], 1)


# ---- 2. distillation toward the starting encoder ---------------------------------------------
def test_without_a_distill_weight_nothing_is_built(tokenizer, task_files, tmp_path):
    trainer = make_trainer(tokenizer, task_files[:2], tmp_path / "a")
    assert trainer.distillation is None
    assert "states" not in vars(trainer.model)  # the method is never shadowed


def test_the_distillation_term_is_one_minus_the_cosine_to_the_start(tokenizer, task_files,
                                                                     tmp_path):
    trainer = make_trainer(tokenizer, task_files[:2], tmp_path / "a", distill_weight=0.5)
    start = copy.deepcopy(trainer.model.encoder)  # our own copy of the start, for the hand sum
    with torch.no_grad():  # move the live encoder away from the start
        torch.manual_seed(0)
        for parameter in trainer.model.encoder.parameters():
            parameter.add_(0.05 * torch.randn_like(parameter))
    batch = first_batch(trainer, "topic")
    ids, mask = batch["input_ids"], batch["attention_mask"]
    with torch.no_grad():
        task_loss = trainer.model("topic", batch).loss
        weights = mask[..., None].float()  # mean pooling by hand, (B, T, 1)
        now = (trainer.model.encoder(ids, mask) * weights).sum(1) / weights.sum(1)  # (B, d)
        then = (start(ids, mask) * weights).sum(1) / weights.sum(1)
        cosines = (now * then).sum(-1) / (now.norm(dim=-1) * then.norm(dim=-1))  # (B,)
        expected = task_loss + 0.5 * (1 - cosines).mean()
    assert (1 - cosines).mean() > 1e-3  # the term is not zero here
    assert trainer._step("topic", batch) == pytest.approx(float(expected), rel=1e-5)


def test_a_task_weight_sets_the_term_on_that_tasks_batches_only(tokenizer, task_files, tmp_path):
    trainer = make_trainer(tokenizer, task_files[:2], tmp_path / "a", distill_weight=0.5,
                           distill_task_weights={"topic": 0.0, "sentiment": 2.0})
    with torch.no_grad():  # move the live encoder away from the start: the term is not zero
        torch.manual_seed(0)
        for parameter in trainer.model.encoder.parameters():
            parameter.add_(0.05 * torch.randn_like(parameter))
    teacher_calls, teacher = [], trainer.distillation.start_embeddings

    def counted(*args):  # (the packed path bypasses the encoder's forward, and so its hooks)
        teacher_calls.append(1)
        return teacher(*args)
    trainer.distillation.start_embeddings = counted

    def before_the_step(name):
        """(batch, task loss, term) as the step will see them: the logged loss is the forward's."""
        batch = first_batch(trainer, name)
        with torch.no_grad(), trainer.distillation.recording() as recorded:
            task_loss = trainer.model(name, batch).loss
            term = trainer.distillation.term(recorded)
        assert term > 1e-3
        return batch, float(task_loss), float(term)

    batch, task_loss, _ = before_the_step("topic")
    teacher_calls.clear()
    assert trainer._step("topic", batch) == pytest.approx(task_loss, rel=1e-5)  # weight 0
    assert not teacher_calls  # ... and no teacher pass for its batch
    batch, task_loss, term = before_the_step("sentiment")
    teacher_calls.clear()
    # its own weight, 2, not distill_weight's 0.5
    assert trainer._step("sentiment", batch) == pytest.approx(task_loss + 2.0 * term, rel=1e-5)
    assert teacher_calls  # the teacher's pass, for its batch


def test_distill_task_weights_come_from_flags_and_config():
    parser = argparse.ArgumentParser()
    add_option_flags(parser)
    flags = vars(parser.parse_args(["--distill-weight", "1", "--distill-task-weight", "ner=0"]))
    options = merged_options({"options": {"distill_task_weights": {"ner": 0.5, "wnut": 0}}},
                             flags, "minilm")
    assert options.distill_task_weights == {"ner": 0.0, "wnut": 0}  # a flag replaces its task's
    with pytest.raises(InputError, match="--distill-task-weight takes TASK=NUMBER"):
        merged_options({}, vars(parser.parse_args(["--distill-task-weight", "ner"])), "minilm")
    with pytest.raises(InputError, match="--distill-task-weight must be an object of task"):
        merged_options({}, vars(parser.parse_args(["--distill-task-weight", "ner=-1"])), "minilm")


def test_the_distillation_gradient_pulls_toward_the_start_and_the_copy_never_changes(
        tokenizer, task_files, tmp_path):
    # Task losses weighted 0: only the term trains the encoder.
    trainer = make_trainer(tokenizer, task_files[:2], tmp_path / "a", epochs=3, distill_weight=1.0,
                           loss_weights={"topic": 0.0, "sentiment": 0.0})
    distillation = trainer.distillation
    with torch.no_grad():
        torch.manual_seed(0)
        for parameter in trainer.model.encoder.parameters():
            parameter.add_(0.05 * torch.randn_like(parameter))
    start_weights = copy.deepcopy(distillation.start.state_dict())
    batch = first_batch(trainer, "topic", size=8)

    def distance() -> float:
        with torch.no_grad(), distillation.recording() as recorded:
            trainer.model.eval()("topic", batch)
            return float(distillation.term(recorded))

    far = distance()
    trainer.train()
    assert distance() < 0.5 * far
    copy_now = distillation.start.state_dict()
    assert all(torch.equal(copy_now[name], value) for name, value in start_weights.items())
    assert not any(p.requires_grad for p in distillation.start.parameters())
    assert not any(module.training for module in distillation.start.modules())
    in_optimizer = {id(p) for g in trainer.optimizer.param_groups for p in g["params"]}
    assert not in_optimizer & {id(p) for p in distillation.start.parameters()}


def test_distillation_sees_both_sides_of_a_pair(tmp_path):
    rows = [("A cat sleeps.", "A cat is asleep.", 4.5), ("A man runs.", "The sky is blue.", 0.5),
            ("Dogs bark.", "A dog barks.", 4.0), ("It rains.", "Cats sleep.", 1.0)]
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps({"sentence1": a, "sentence2": b, "score": s}) + "\n"
                            for a, b, s in rows))
    tokenizer = Tokenizer.train([t for a, b, _ in rows for t in (a, b)], vocab_size=100,
                                min_frequency=1)
    trainer = make_trainer(tokenizer, [TaskSpec("sts", "sentence_similarity", path, path)],
                           tmp_path / "run", distill_weight=1.0)
    batch = first_batch(trainer, "sts")
    with trainer.distillation.recording() as recorded:
        trainer.model("sts", batch)
    assert [states.shape[0] for _, _, states in recorded] == [8]  # 4 pairs: 8 sentences
    assert trainer.distillation.term(recorded).item() == pytest.approx(0.0, abs=1e-6)  # at start


def test_distill_from_holds_the_embeddings_near_another_models(tokenizer, task_files, tmp_path):
    # A teacher: a tiny run trained on topic alone. The term of a fresh trainer is 1 - cos to
    # the teacher's embeddings (not the start's), and 0 once the live encoder is the teacher.
    make_trainer(tokenizer, task_files[:1], tmp_path / "teacher", epochs=8, lr=3e-3).train()
    teacher = load_model(str(tmp_path / "teacher"), device="cpu")
    trainer = make_trainer(tokenizer, task_files[:2], tmp_path / "a", distill_weight=1.0,
                           distill_from=str(tmp_path / "teacher"), distill_target=teacher.encoder)
    batch = first_batch(trainer, "sentiment")
    ids, mask = batch["input_ids"], batch["attention_mask"]

    def term() -> float:
        with torch.no_grad(), trainer.distillation.recording() as recorded:
            trainer.model.eval()("sentiment", batch)
            return float(trainer.distillation.term(recorded))

    with torch.no_grad():
        now = trainer.model.pool(trainer.model.encoder(ids, mask), mask)
        then = trainer.model.pool(teacher.encoder(ids, mask), mask)
    expected = float((1 - F.cosine_similarity(now, then, dim=-1)).mean())
    assert expected > 1e-3  # the run's start is not the teacher
    assert term() == pytest.approx(expected, rel=1e-5)
    trainer.model.encoder.load_state_dict(teacher.encoder.state_dict())
    assert term() == pytest.approx(0.0, abs=1e-6)


def test_distill_from_reads_the_model_and_refuses_one_that_does_not_fit(tokenizer, tmp_path):
    encoder = make_encoder(tokenizer.vocab_size)
    SentenceEncoder(tokenizer, encoder).save(tmp_path / "same")
    start = Start(make_encoder(tokenizer.vocab_size, seed=1), tokenizer, "mean", "a test start")
    target = distillation_target(str(tmp_path / "same"), start, "mean")
    assert all(torch.equal(a, b) for a, b in zip(target.parameters(), encoder.parameters()))
    assert distillation_target("start", start, "mean") is None  # the trainer copies the start
    with pytest.raises(InputError, match="--distill-from: .*the run's cls"):
        distillation_target(str(tmp_path / "same"), start, "cls")
    other = Tokenizer.train(["entirely different words here", "and some more of them"],
                            vocab_size=60, min_frequency=1)
    SentenceEncoder(other, make_encoder(other.vocab_size)).save(tmp_path / "other")
    with pytest.raises(InputError, match="--distill-from: .*other.*another vocabulary"):
        distillation_target(str(tmp_path / "other"), start, "mean")


# ---- 3. mixed-task steps and PCGrad -----------------------------------------------------------
def test_pcgrad_projects_two_conflicting_gradients_as_by_hand():
    conflicting = torch.tensor([[1.0, 0.0], [-1.0, 1.0]])  # dot -1
    # g1' = g1 - (g1.g2 / |g2|^2) g2 = (1, 0) + 1/2 (-1, 1) = (0.5, 0.5)
    # g2' = g2 - (g2.g1 / |g1|^2) g1 = (-1, 1) + (1, 0)     = (0, 1)
    projected = pcgrad(conflicting)
    torch.testing.assert_close(projected, torch.tensor([[0.5, 0.5], [0.0, 1.0]]))
    assert float(projected[0] @ conflicting[1]) == pytest.approx(0.0)  # no conflict left
    torch.testing.assert_close(combine_gradients(conflicting, "pcgrad"), torch.tensor([0.5, 1.5]))
    torch.testing.assert_close(combine_gradients(conflicting, "none"), torch.tensor([0.0, 1.0]))
    agreeing = torch.tensor([[1.0, 0.0], [1.0, 1.0]])  # dot 1: nothing changes
    torch.testing.assert_close(pcgrad(agreeing), agreeing)


def per_task_gradients(model, names, batches) -> list[dict[str, torch.Tensor]]:
    """Each task's gradients alone, on a copy of the model."""
    model = copy.deepcopy(model)
    gradients = []
    for name, batch in zip(names, batches):
        model.zero_grad(set_to_none=True)
        model(name, batch).loss.backward()
        gradients.append({n: p.grad.clone() for n, p in model.named_parameters()
                          if p.grad is not None})
    return gradients


def gradients_at_the_optimizer_step(trainer) -> dict[str, torch.Tensor]:
    """Wrap the optimizer's step so that it records the gradients it is given."""
    seen = {}
    step = trainer.optimizer.step

    def recording_step(*args, **kwargs):
        seen.update({n: p.grad.clone() for n, p in trainer.model.named_parameters()
                     if p.grad is not None})
        return step(*args, **kwargs)

    trainer.optimizer.step = recording_step
    return seen


@pytest.mark.parametrize("surgery", ["none", "pcgrad"])
def test_a_mixed_step_combines_the_task_gradients(tokenizer, task_files, tmp_path, surgery):
    specs = [task_files[1], task_files[2]]  # sentiment and its label-flipped twin
    trainer = make_trainer(tokenizer, specs, tmp_path / "a", tasks_per_step=2,
                           gradient_surgery=surgery, max_grad_norm=1e9)  # no clipping
    model = trainer.model
    with torch.no_grad():  # the same head for both: their encoder gradients then conflict
        model.heads["flipped"].load_state_dict(model.heads["sentiment"].state_dict())
    names = ["sentiment", "flipped"]
    batches = [first_batch(trainer, name) for name in names]
    alone = per_task_gradients(model, names, batches)
    seen = gradients_at_the_optimizer_step(trainer)
    losses = trainer._mixed_step(names, batches)
    assert len(losses) == 2 and trainer.state.losses == [pytest.approx(sum(losses))]

    encoder = [n for n, _ in model.named_parameters() if n.startswith("encoder.") and n in seen]
    flat = torch.stack([torch.cat([g[n].flatten() for n in encoder]) for g in alone])  # (2, n)
    assert float(flat[0] @ flat[1]) < 0  # the two tasks conflict on the encoder
    expected = flat.sum(0) if surgery == "none" else pcgrad(flat).sum(0)
    torch.testing.assert_close(torch.cat([seen[n].flatten() for n in encoder]), expected)
    if surgery == "pcgrad":
        assert not torch.allclose(expected, flat.sum(0))
    for name in seen:  # each head: its own task's gradient, untouched
        if name.startswith("heads."):
            task = names.index(name.split(".")[1])
            torch.testing.assert_close(seen[name], alone[task][name], msg=name)


def test_mixed_steps_take_a_batch_of_each_task_and_cover_the_epoch_in_fewer_steps(
        tokenizer, task_files, tmp_path):
    trainer = make_trainer(tokenizer, task_files[:2], tmp_path / "a", tasks_per_step=2)
    assert trainer.steps_per_epoch == 2  # 4 batches of 4 examples, 2 a step
    stepped = []
    mixed_step = trainer._mixed_step
    trainer._mixed_step = lambda names, batches: stepped.append(names) or mixed_step(names, batches)
    trainer.train()
    assert len(stepped) == 4 and all(sorted(names) == ["sentiment", "topic"] for names in stepped)
    assert len(trainer.state.losses) == 4


@pytest.mark.parametrize("options, message", [
    ({"tasks_per_step": 3}, "a step mixes different tasks, and this run has 2"),
    ({"gradient_surgery": "pcgrad"}, "acts on steps that mix tasks"),
    ({"tasks_per_step": 2, "step_scales": {"topic": 2.0}}, "step scales .* act on one-task"),
    ({"distill_from": "minilm"}, "give the term a weight too"),
    ({"distill_task_weights": {"topic": 0.0}}, "turn the term on too"),
    ({"distill_weight": 1.0, "distill_task_weights": {"stsb": 0.0}},
     "--distill-task-weight for unknown task.*stsb; tasks: topic, sentiment"),
    ({"loss_weights": {"topic": 2.0, "stsb": 1.0}}, "--loss-weight for unknown task.*stsb"),
    ({"loss_weighting": "uncertainty", "loss_weights": {"topic": 2.0}}, "exclude each other"),
    ({"unfreeze_every": 1, "freeze": "backbone"}, "combines only with --freeze none or head"),
])
def test_lever_combinations_that_would_not_act_are_refused(options, message):
    with pytest.raises(InputError, match=message):
        check_run_options(TrainingOptions(**options), ["topic", "sentiment"], processes=1)


def test_option_checks_that_depend_on_the_processes():
    with pytest.raises(InputError, match="batch_size .* 9, the global batch, must be a multiple"):
        check_run_options(TrainingOptions(batch_size=9), ["topic"], processes=2)
    with pytest.raises(InputError, match="not supported under torchrun"):
        check_run_options(TrainingOptions(tasks_per_step=2), ["topic", "sentiment"], processes=2)
    check_run_options(TrainingOptions(batch_size=8, unfreeze_every=1, freeze="head:topic"),
                      ["topic", "sentiment"], processes=2)  # a valid combination passes


# ---- 4. defaults unchanged; resume -----------------------------------------------------------
def test_the_levers_at_neutral_values_give_the_default_run(tokenizer, task_files, tmp_path):
    default = make_trainer(tokenizer, task_files[:2], tmp_path / "a", dropout=0.1)
    default.train()
    neutral = make_trainer(tokenizer, task_files[:2], tmp_path / "b", dropout=0.1,
                           step_scales={"topic": 1.0}, distill_weight=0.0, tasks_per_step=1,
                           gradient_surgery="none")
    neutral.train()
    assert neutral.state.losses == default.state.losses  # bit for bit


@pytest.mark.parametrize("levers, interrupt_at", [
    ({"step_scales": {"topic": 2.0}, "distill_weight": 0.5}, 7),  # 4 steps an epoch
    ({"tasks_per_step": 2, "gradient_surgery": "pcgrad", "distill_weight": 0.5}, 4),  # 2
])
def test_resume_with_the_levers_gives_the_same_losses(tokenizer, task_files, tmp_path, levers,
                                                      interrupt_at):
    specs = task_files[:2]
    uninterrupted = make_trainer(tokenizer, specs, tmp_path / "a", dropout=0.1, epochs=3,
                                 **levers)
    uninterrupted.train()
    interrupted = make_trainer(tokenizer, specs, tmp_path / "b", dropout=0.1, epochs=3, **levers)
    calls = []
    for method in ("_step", "_mixed_step"):
        real = getattr(interrupted, method)

        def step_then_ctrl_c(*args, real=real):
            calls.append(args)
            if len(calls) == interrupt_at:  # in the middle of the second epoch
                raise KeyboardInterrupt
            return real(*args)

        setattr(interrupted, method, step_then_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        interrupted.train()
    # The resumed trainer starts from a fresh start encoder, as prepare_run builds it: its
    # distillation copy is the start, not RUN/last.
    resumed = make_trainer(tokenizer, specs, tmp_path / "b", dropout=0.1, epochs=3, **levers)
    resumed.train(resume=True)
    assert len(resumed.state.losses) == len(uninterrupted.state.losses) == (
        3 * uninterrupted.steps_per_epoch)
    assert resumed.state.losses == pytest.approx(uninterrupted.state.losses, rel=1e-6, abs=1e-7)


@pytest.mark.parametrize("saved, resumed, message", [
    ({"distill_weight": 0.5}, {}, "trained with --distill-weight 0.5, not --distill-weight 0.0"),
    ({"step_scales": {"topic": 2.0}}, {}, "trained with --step-scale topic=2, not no --step-scale"),
    ({"tasks_per_step": 2}, {}, "trained with --tasks-per-step 2"),
    ({"distill_weight": 0.5, "distill_task_weights": {"topic": 0.0}}, {"distill_weight": 0.5},
     "trained with --distill-task-weight topic=0, not no --distill-task-weight"),
])
def test_resume_with_other_levers_is_refused(tokenizer, task_files, tmp_path, saved, resumed,
                                             message):
    make_trainer(tokenizer, task_files[:2], tmp_path / "run", epochs=1, **saved).train()
    other = make_trainer(tokenizer, task_files[:2], tmp_path / "run", epochs=2, **resumed)
    with pytest.raises(InputError, match=message):
        other.train(resume=True)


def test_pcgrad_needs_no_conflict_to_leave_gradients_alone():
    gradients = F.normalize(torch.rand(3, 5), dim=-1)  # all non-negative: no dot below 0
    torch.testing.assert_close(pcgrad(gradients, torch.Generator().manual_seed(0)), gradients)
