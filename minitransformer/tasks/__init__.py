"""What the model is trained and scored on: the four task kinds (kinds.py, one place), their
files (readers.py), encoding and batching (data.py, samplers.py, masking.py), the heads and the
MultiTaskModel (heads.py), and scoring (metrics.py, scoring.py; each dev set's select and
report parts: dev_split.py)."""
