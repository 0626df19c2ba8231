"""Plausible learner mistakes in the exercises, each a small edit of a correct solution
(solutions/), and what `python -m minitransformer.check` must say about it
(tests/test_learner_mistakes.py runs them)."""
