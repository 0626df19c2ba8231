"""Text -> token ids: BERT's WordPiece tokenizer, run by the `tokenizers` package (Rust).

Why pieces and not words. A vocabulary of whole words has holes: every name, typo and rare
form of a word would be unknown. A vocabulary of single characters has no holes, but the
sequences get long and the model must learn to spell. WordPiece (Schuster & Nakajima 2012;
Wu et al. 2016; used by BERT) sits in between: a frequent word is one piece, a rare word is
spelled with a few frequent pieces.

How a sentence is split. The text is cleaned and (by default, as for MiniLM) lower-cased,
then cut into words at spaces and punctuation. Each word is split greedily from the left: take
the longest start of the word that is in the vocabulary, then the longest piece of what is
left, and so on. A piece that continues a word is written with "##" in front. So "bed" (a
word, or the start of one) and "##bed" (inside a word) are two entries with two ids, 2793 and
8270, and `decode` knows which pieces to glue back together. With the vocabulary of
all-MiniLM-L6-v2 (30,522 pieces, 5,828 of them "##" pieces):

    "Tokenization is unbelievably useful."
    -> [CLS] token ##ization is un ##bel ##ie ##va ##bly useful . [SEP]
    "The embeddings were fine-tuned."
    -> [CLS] the em ##bed ##ding ##s were fine - tuned . [SEP]

A word that cannot be spelled with the pieces becomes one [UNK]: "snow☃man" -> [UNK].

What the encoder gets for a batch of B sentences:

    input_ids      (B, T) long   [CLS] w1 w2 ... [SEP] [PAD] [PAD]
    attention_mask (B, T) long    1   1  1 ...  1     0     0

[CLS] opens every sentence and [SEP] closes it (BERT's convention: [CLS]'s final state can
stand for the sentence, and [SEP] separates the two halves of a sentence pair). [PAD] fills the
shorter sentences up to the batch's length; the mask says which positions are real.

Truncation rule: a sentence longer than `max_length` tokens keeps its *first* max_length - 2
word pieces, then [SEP]; [CLS] and [SEP] are always there. Padding goes to the longest sentence
of the batch (not to max_length), on the right.

The file reads top to bottom: the Tokenizer (using one, then making one), then the plumbing:
BERT's pipeline for the `tokenizers` package, the checks on what users hand in, and how a
trained vocabulary is made the same in every run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch
from tokenizers import Tokenizer as BackendTokenizer
from tokenizers import decoders, models, normalizers, pre_tokenizers, processors, trainers

from ..errors import InputError, about
from ..storage.text import read_text

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
REQUIRED_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]")  # every batch uses these; [MASK] only MLM


class Tokenizer:
    """WordPiece tokenizer with BERT conventions; see the module docstring for the output."""

    def __init__(self, backend: BackendTokenizer, max_length: int = 512):
        check_special_tokens(set(backend.get_vocab()))
        if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 2:
            raise InputError(f"max_length must leave room for [CLS] and [SEP], got {max_length}")
        self.backend = backend
        self.pad_id = backend.token_to_id("[PAD]")
        # We pad ourselves (after sorting by length); the backend only truncates.
        backend.no_padding()
        self.set_max_length(max_length)

    # ---- use ----------------------------------------------------------------------------
    def __call__(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        """Tokenize and pad a batch: {'input_ids', 'attention_mask'}, both (B, T) long."""
        return self.pad(self.tokenize(texts))

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text, with [CLS]/[SEP], truncated to max_length, not padded."""
        texts = check_texts(texts)
        return [encoding.ids for encoding in self.backend.encode_batch(texts)]

    def pad(self, sequences: Sequence[Sequence[int]]) -> dict[str, torch.Tensor]:
        """Right-pad id lists to the longest one: {'input_ids', 'attention_mask'}, both (B, T)."""
        if not sequences:
            raise ValueError("cannot pad an empty batch")
        longest = max(len(ids) for ids in sequences)
        input_ids = np.full((len(sequences), longest), self.pad_id, dtype=np.int64)
        attention_mask = np.zeros((len(sequences), longest), dtype=np.int64)
        for row, ids in enumerate(sequences):
            input_ids[row, : len(ids)] = ids
            attention_mask[row, : len(ids)] = 1
        return {"input_ids": torch.from_numpy(input_ids),
                "attention_mask": torch.from_numpy(attention_mask)}

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = True) -> str:
        return self.backend.decode(list(ids), skip_special_tokens=skip_special_tokens)

    def tokenize_words(self, sentences: Sequence[Sequence[str]]
                       ) -> list[tuple[list[int], list[int | None]]]:
        """Sentences already split into words (a CoNLL file's) -> for each, its token ids as
        `tokenize` gives them and, at each position, the index of the word the token came from
        (None for [CLS] and [SEP]). A word may still split into several pieces."""
        encodings = self.backend.encode_batch([list(words) for words in sentences],
                                              is_pretokenized=True)
        return [(encoding.ids, encoding.word_ids) for encoding in encodings]

    def token_id(self, token: str) -> int | None:
        """The id of a token of the vocabulary ('[MASK]', say); None if it has no such token."""
        return self.backend.token_to_id(token)

    @property
    def vocab_size(self) -> int:
        return self.backend.get_vocab_size()

    def set_max_length(self, max_length: int) -> None:
        """Truncate every later encoding to `max_length` tokens, [CLS] and [SEP] included."""
        self.max_length = max_length
        self.backend.enable_truncation(max_length)

    def with_max_length(self, max_length: int) -> Tokenizer:
        """A copy (vocabulary and all) that truncates to `max_length`; this one is left as it is.
        A copy, because the truncation is a setting of the backend, shared by every holder."""
        return Tokenizer(BackendTokenizer.from_str(self.backend.to_str()), max_length)

    # ---- construction -------------------------------------------------------------------
    @classmethod
    def from_vocab(cls, path: str | Path, lowercase: bool = True, max_length: int = 512):
        """From a BERT `vocab.txt` (one token a line; the line number is the id)."""
        with about(path):
            # Read and checked here first: the backend reads any file, and fails only later,
            # in the [CLS] ... [SEP] template, with a TypeError that names nothing.
            text = read_text(path, "a vocabulary file")
            check_special_tokens({line.rstrip() for line in text.split("\n")})
            model = _backend_call(path, lambda: models.WordPiece.from_file(str(path),
                                                                           unk_token="[UNK]"))
            backend = _bert_pipeline(model, lowercase)
            _add_template(backend)
            return cls(backend, max_length)

    @classmethod
    def from_file(cls, path: str | Path, max_length: int = 512):
        """From a `tokenizer.json` written by the `tokenizers` package (ours or HF's)."""
        with about(path):
            return cls(_backend_call(path, lambda: BackendTokenizer.from_file(str(path))),
                       max_length)

    @classmethod
    def train(cls, texts: Iterable[str], vocab_size: int = 8000, min_frequency: int = 2,
              lowercase: bool = True, max_length: int = 512):
        """Learn a new WordPiece vocabulary from an iterable of sentences. The trainer starts
        from single characters (and their "##" forms) and keeps adding the most frequent pair
        of neighbouring pieces as one new piece, until there are `vocab_size` pieces or no pair
        occurs `min_frequency` times. The same texts give the same vocabulary, ids included, in
        every run (`learn_vocabulary`, at the bottom of the file, says how)."""
        texts = check_texts(texts)
        vocabulary = learn_vocabulary(texts, vocab_size, min_frequency, lowercase)
        backend = _bert_pipeline(models.WordPiece(vocabulary, unk_token="[UNK]"), lowercase)
        backend.add_special_tokens(SPECIAL_TOKENS)  # "[MASK]" in a text stays one token
        _add_template(backend)
        return cls(backend, max_length)

    @classmethod
    def load(cls, directory: str | Path, max_length: int = 512):
        """From a directory holding `tokenizer.json` (preferred) or `vocab.txt`."""
        directory = Path(directory)
        if (directory / "tokenizer.json").is_file():
            return cls.from_file(directory / "tokenizer.json", max_length)
        if (directory / "vocab.txt").is_file():
            return cls.from_vocab(directory / "vocab.txt", max_length=max_length)
        raise InputError(f"{directory}: no tokenizer.json or vocab.txt")

    def save(self, directory: str | Path) -> None:
        """Write `tokenizer.json` and a BERT `vocab.txt` into the directory."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.backend.save(str(directory / "tokenizer.json"))
        tokens = sorted(self.backend.get_vocab().items(), key=lambda item: item[1])
        (directory / "vocab.txt").write_text("".join(token + "\n" for token, _ in tokens),
                                             encoding="utf-8")


# ---- plumbing: BERT's pipeline in the `tokenizers` package ----------------------------------

def _bert_pipeline(model: models.Model, lowercase: bool) -> BackendTokenizer:
    """BERT's normalisation, pre-tokenisation, [CLS] ... [SEP] template and WordPiece decoding."""
    backend = BackendTokenizer(model)
    # Unicode clean-up, spaces around CJK characters, and (if lowercase) lower-casing + accent
    # removal.
    backend.normalizer = normalizers.BertNormalizer(lowercase=lowercase)
    backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()  # split on spaces and punctuation
    backend.decoder = decoders.WordPiece(prefix="##")
    return backend


def _add_template(backend: BackendTokenizer) -> None:
    cls_id, sep_id = backend.token_to_id("[CLS]"), backend.token_to_id("[SEP]")
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )


# ---- checks on what users hand in ---------------------------------------------------------

def check_texts(texts) -> list[str]:
    """A list of strings, or a clear TypeError: the Rust backend's own errors are cryptic."""
    if isinstance(texts, str):
        raise TypeError("expected a list of strings, got a single string; wrap it in a list")
    texts = list(texts)
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"item {index} is {type(text).__name__}, not str: {text!r:.60}")
        if not text.isascii():
            try:  # a lone surrogate ("\ud800") is a str but no character: UTF-8 cannot hold it
                text.encode("utf-8")
            except UnicodeEncodeError as error:
                raise InputError(f"item {index} holds {text[error.start]!r} at {error.start}, "
                                 f"half of a UTF-16 surrogate pair, not a character") from None
    return texts


def check_special_tokens(vocabulary: set[str]) -> None:
    """Refuse a vocabulary without the special tokens BERT's batches are made of."""
    missing = [token for token in REQUIRED_TOKENS if token not in vocabulary]
    if missing:
        raise InputError(f"the vocabulary has no {', '.join(missing)} "
                         f"token{'s' if len(missing) > 1 else ''}")


def _backend_call(path: str | Path, read):
    """Run a `tokenizers` reader; its errors (plain Exceptions from Rust) become InputErrors."""
    try:
        return read()
    except Exception as error:  # noqa: BLE001 - the backend raises nothing more specific
        raise InputError(f"{path}: the tokenizers package cannot read it "
                         f"({str(error).splitlines()[0][:120]})") from None


# ---- the same vocabulary in every run -----------------------------------------------------

def learn_vocabulary(texts: list[str], vocab_size: int, min_frequency: int,
                     lowercase: bool) -> dict[str, int]:
    """{piece: id} that the `tokenizers` WordPiece trainer learns from `texts`, "##" pieces
    included as plain entries, the same in every run.

    The trainer alone does not give the same vocabulary twice: it creates the word-continuing
    pieces ("##e") in the order it meets them in a hash map, whose order changes from run to
    run, and breaks ties between equally frequent merges by the ids of the pieces, so the
    pieces learned differ too (huggingface/tokenizers issue 1794). Every "##" piece the texts
    need is therefore given to the trainer up front, in sorted order, and `Tokenizer.train`
    then rebuilds the vocabulary as a plain WordPiece model, in which only the five real
    special tokens are special."""
    backend = _bert_pipeline(models.WordPiece(unk_token="[UNK]"), lowercase)
    continuing = sorted({"##" + piece for piece in _characters_after_the_first(backend, texts)})
    trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, min_frequency=min_frequency,
                                        special_tokens=SPECIAL_TOKENS + continuing,
                                        show_progress=False)
    backend.train_from_iterator(texts, trainer)
    return backend.get_vocab()


def _characters_after_the_first(backend: BackendTokenizer, texts: list[str]) -> set[str]:
    """Every character that follows another inside a word, after the backend's normalisation
    and pre-tokenisation: the ones WordPiece needs as word-continuing "##" pieces."""
    characters = set()
    for text in texts:
        for word, _ in backend.pre_tokenizer.pre_tokenize_str(
                backend.normalizer.normalize_str(text)):
            characters.update(word[1:])
    return characters
