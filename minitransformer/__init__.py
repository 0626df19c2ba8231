"""minitransformer: a from-scratch, educational sentence transformer.

The transformer is at the top of this package, in the order a learner reads it: config.py,
tokenizer.py, positional.py, attention.py, encoder.py, pooling.py, then sentence.py (encode,
save, load) and similarity.py. The machinery lives in subpackages: tasks/ (task kinds, data,
heads, metrics), training/ (the run, the loop, checkpoints) and storage/ (files on disk).
docs/architecture.md draws the whole house.

    from minitransformer import load_model, cos_sim
    model = load_model("minilm")
    vectors = model.encode(["A cat sleeps.", "A kitten naps."])   # numpy (2, 384), unit length
"""

from .config import EncoderConfig
from .encoder import Encoder
from .loading import load_model
from .sentence import SentenceEncoder
from .similarity import cos_sim, semantic_search
from .tokenizer import Tokenizer

__all__ = ["EncoderConfig", "Encoder", "SentenceEncoder", "Tokenizer", "cos_sim",
           "load_model", "semantic_search"]
