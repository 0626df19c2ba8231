"""Scoring a multi-task model: the modes it leaves the model in."""


import torch
from conftest import CORPUS, make_encoder

from minitransformer.tasks.data import TaskData, TaskSpec, encode_examples
from minitransformer.tasks.evaluation import evaluate_task, example_predictions
from minitransformer.tasks.heads import (
    MultiTaskModel,
    SentenceClassificationHead,
    SimilarityObjective,
)
from minitransformer.tasks.kinds import SENTENCE_CLASSIFICATION, SENTENCE_SIMILARITY
from minitransformer.tasks.readers import PairExample, SentenceExample
from minitransformer.training.freezing import apply_freezing


def similarity_task(tokenizer, scores) -> TaskData:
    """An STS task of len(scores) pairs of CORPUS sentences; its dev set is its train set."""
    pairs = [PairExample(CORPUS[i], CORPUS[-1 - i], score) for i, score in enumerate(scores)]
    data = encode_examples(pairs, SENTENCE_SIMILARITY, tokenizer)
    spec = TaskSpec("sts", SENTENCE_SIMILARITY, "sts.jsonl", "sts.jsonl")
    return TaskData(spec, None, data, data)


def topic_task(tokenizer) -> TaskData:
    examples = [SentenceExample(text, "ab"[i % 2]) for i, text in enumerate(CORPUS)]
    data = encode_examples(examples, SENTENCE_CLASSIFICATION, tokenizer, ["a", "b"])
    spec = TaskSpec("topic", SENTENCE_CLASSIFICATION, "topic.jsonl", "topic.jsonl")
    return TaskData(spec, ["a", "b"], data, data)


def two_task_model(tokenizer) -> MultiTaskModel:
    encoder = make_encoder(tokenizer.vocab_size, num_layers=3, dropout=0.1)
    return MultiTaskModel(encoder, {"topic": SentenceClassificationHead(32, 2),
                                    "sts": SimilarityObjective()})


# ---- modes ------------------------------------------------------------------------------------
def test_scoring_gives_back_the_modes_it_found_module_by_module(tokenizer):
    model = two_task_model(tokenizer)
    tasks = [topic_task(tokenizer), similarity_task(tokenizer, [4.0, 1.0, 2.5])]
    apply_freezing(model, "layers:1")
    model.train_unfrozen()  # as in training: the frozen blocks in eval mode, the rest training
    found = [module.training for module in model.modules()]
    assert any(found) and not all(found)
    for task in tasks:
        evaluate_task(model, task)
        assert [module.training for module in model.modules()] == found, task.spec.name
    example_predictions(model, tasks)
    assert [module.training for module in model.modules()] == found
    assert not torch.is_inference_mode_enabled()
    model.eval()  # a model found in eval mode stays in it
    evaluate_task(model, tasks[0])
    assert not any(module.training for module in model.modules())


def test_scoring_runs_in_eval_mode(tokenizer):
    """Dropout off while scoring, whatever mode the model was in: the same numbers twice."""
    model = two_task_model(tokenizer).train()
    task = similarity_task(tokenizer, [4.0, 1.0, 2.5, 0.5])
    assert evaluate_task(model, task) == evaluate_task(model.eval(), task)
