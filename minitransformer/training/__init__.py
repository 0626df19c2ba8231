"""How a model is trained: a run from flags and a config file (run_config.py, options.py,
start.py, runs.py), the loop (trainer.py, state.py) and the callbacks that react to its events
(callbacks/: the log and progress, dev evaluation, checkpoints and resume, gradual unfreezing,
the heap trim), and the loop's collaborators: optimizer groups by depth (optimizer.py), freezing,
loss weighting, the levers inside a step, data-parallel training, seeds, checkpoints
(saving.py, best_and_last.py), the metrics log and run.json (record.py)."""
