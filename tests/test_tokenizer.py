import pytest

from minitransformer.errors import InputError
from minitransformer.model.tokenizer import SPECIAL_TOKENS, Tokenizer

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "on", "mat", "##s", "."]


def test_vocab_txt_gives_hand_checked_ids(tmp_path):
    (tmp_path / "vocab.txt").write_text("\n".join(VOCAB) + "\n")
    tokenizer = Tokenizer.from_vocab(tmp_path / "vocab.txt")
    # "The" is lower-cased; "cats" splits into cat + ##s; "dog" is unknown; ids are line numbers.
    assert tokenizer.tokenize(["The cats sat on the dog."]) == [[2, 5, 6, 10, 7, 8, 5, 1, 11, 3]]


def test_trained_vocabulary_round_trips(tokenizer):
    assert [tokenizer.backend.token_to_id(t) for t in SPECIAL_TOKENS] == [0, 1, 2, 3, 4]
    text = "the quick brown fox jumps over the lazy dog."
    assert tokenizer.decode(tokenizer.tokenize([text])[0]) == text


def test_padding_to_longest_and_mask(tokenizer):
    batch = tokenizer(["a cat.", "the quick brown fox jumps over the lazy dog."])
    ids, mask = batch["input_ids"], batch["attention_mask"]
    lengths = [len(ids) for ids in tokenizer.tokenize(
        ["a cat.", "the quick brown fox jumps over the lazy dog."])]
    assert ids.shape == mask.shape == (2, max(lengths))
    assert mask.sum(1).tolist() == lengths
    assert (ids[0, lengths[0]:] == tokenizer.pad_id).all()


def test_truncation_keeps_the_first_tokens_and_sep(tokenizer):
    ids = tokenizer.with_max_length(8).tokenize(
        ["the quick brown fox jumps over the lazy dog " * 50])[0]
    full = tokenizer.with_max_length(512).tokenize(["the quick brown fox"])[0]
    assert tokenizer.max_length == 64  # the shared fixture, left as it was
    assert len(ids) == 8
    assert ids[0] == 2 and ids[-1] == 3  # [CLS] ... [SEP] survive truncation
    assert ids[:5] == full[:5]


def test_save_and_load(tokenizer, tmp_path):
    tokenizer.save(tmp_path)
    text = ["Padding must never change the embedding!"]
    assert Tokenizer.load(tmp_path).tokenize(text) == tokenizer.tokenize(text)
    (tmp_path / "tokenizer.json").unlink()  # falls back to vocab.txt
    assert Tokenizer.load(tmp_path).tokenize(text) == tokenizer.tokenize(text)


def test_bad_input_is_explained(tokenizer, tmp_path):
    with pytest.raises(TypeError, match="single string"):
        tokenizer.tokenize("just one")
    with pytest.raises(TypeError, match="item 1 is int"):
        tokenizer.tokenize(["fine", 3])
    with pytest.raises(InputError, match="no tokenizer.json or vocab.txt"):
        Tokenizer.load(tmp_path)
    assert tokenizer.tokenize([""]) == [[2, 3]]  # an empty string is [CLS] [SEP]


def test_a_lone_surrogate_is_refused_with_its_place(tokenizer):
    with pytest.raises(InputError, match=r"item 1 holds '\\ud800' at 3, half of a UTF-16"):
        tokenizer(["fine", "caf\ud800"])


def test_training_twice_gives_the_same_vocabulary_ids_included():
    """The tokenizers trainer alone gives another vocabulary in nearly every run on these
    texts (its word-continuing pieces come out of a hash map); Tokenizer.train pins them."""
    texts = ["the cat sat on the mat", "a dog ate the cat's dinner", "mats and hats and cats",
             "dinner is at eight", "the hat sat on the dog"] * 3
    vocabularies = [Tokenizer.train(texts, vocab_size=50, min_frequency=1).backend.get_vocab()
                    for _ in range(4)]
    assert all(vocabulary == vocabularies[0] for vocabulary in vocabularies)
    assert "##s" in vocabularies[0] and len(vocabularies[0]) == 50


def test_only_the_real_special_tokens_are_special(tokenizer):
    """The pinned "##" pieces are ordinary word pieces: "##s" in a text is split like any
    other text, while "[MASK]" stays one token."""
    mask = tokenizer.token_id("[MASK]")
    assert tokenizer.tokenize(["cats [MASK]"])[0][-2] == mask
    pieces = tokenizer.backend.encode("##s").tokens  # [CLS] # # s [SEP], '#' maybe [UNK]
    assert len(pieces) == 5 and pieces[3] == "s"
