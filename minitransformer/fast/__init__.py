"""Fast paths: the same functions as the model's reference code, computed faster on a CPU.

    packed.py     the encoder run on the real tokens only, padding removed outside attention
    quantize.py   int8 copies of an encoder's linear layers, calibrated through the packed path
    dropout.py    dropout with a mask that is cheap to draw

Each is tested against the reference it replaces (tests/test_packed.py, test_quantize.py,
test_dropout.py); a learner can skip this folder.
"""
