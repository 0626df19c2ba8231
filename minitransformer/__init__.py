"""minitransformer: a from-scratch, educational sentence transformer.

The transformer is the folder model/, six files in the order a learner reads them: config.py,
tokenizer.py, positional.py, attention.py, encoder.py, pooling.py. Beside it: sentence.py
(encode, save), similarity.py, loading.py (load_model: any model name or directory), and the
commands of `python -m minitransformer.NAME`. The machinery lives in folders of its own: fast/
(faster paths), tasks/ (task kinds, data, heads, metrics), training/ (the run, the loop and its
callbacks, checkpoints), storage/ (files on disk), exercise_checks/ (what `check` runs on a
learner's code). docs/architecture.md draws the whole house.

    from minitransformer import load_model, cos_sim
    model = load_model("minilm")
    vectors = model.encode(["A cat sleeps.", "A kitten naps."])   # numpy (2, 384), unit length
"""

from .loading import load_model
from .model.config import EncoderConfig
from .model.encoder import Encoder
from .model.tokenizer import Tokenizer
from .sentence import SentenceEncoder
from .similarity import cos_sim, semantic_search

__all__ = ["EncoderConfig", "Encoder", "SentenceEncoder", "Tokenizer", "cos_sim",
           "load_model", "semantic_search"]
