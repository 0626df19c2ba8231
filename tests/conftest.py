"""Shared fixtures: a tiny WordPiece vocabulary and tiny seeded encoders (tests run in seconds)."""

import pytest
import torch

from minitransformer.model.config import EncoderConfig
from minitransformer.model.encoder import Encoder
from minitransformer.model.tokenizer import Tokenizer
from minitransformer.sentence import SentenceEncoder

CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "A small cat sleeps on the warm mat all afternoon.",
    "Transformers read every word of a sentence at once.",
    "Attention lets each token look at every other token.",
    "We train a tiny model so that the tests run quickly.",
    "Padding must never change the embedding of a sentence.",
    "Numbers like 42 and 3.14 are tokens too!",
    "Is this a question? Yes, it is a question.",
]


@pytest.fixture(scope="session")
def tokenizer():
    return Tokenizer.train(CORPUS * 4, vocab_size=120, min_frequency=1, max_length=64)


def make_encoder(vocab_size: int, seed: int = 0, **overrides) -> Encoder:
    torch.manual_seed(seed)
    return Encoder(EncoderConfig.preset("tiny", vocab_size=vocab_size, **overrides)).eval()


@pytest.fixture
def sentence_encoder(tokenizer):
    return SentenceEncoder(tokenizer, make_encoder(tokenizer.vocab_size))
