"""The transformer itself: six files, in the order a learner reads them.

    config.py      every size of the model, in one dataclass, and its presets
    tokenizer.py   text -> WordPiece ids and a 1/0 attention mask
    positional.py  where each piece is: sinusoidal or learned position vectors
    attention.py   multi-head self-attention, in numbered steps
    encoder.py     the encoder layer (attention, feed-forward, residuals, LayerNorm) and the stack
    pooling.py     token vectors -> one sentence vector (masked mean, [CLS], max)

Everything else in the package is built on these: ../sentence.py turns them into sentence
embeddings; ../fast/ holds faster versions of the same functions.
"""
