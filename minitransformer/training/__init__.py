"""How a model is trained: a run from flags and a config file (run_config.py, start.py,
runs.py), the loop (trainer.py) and its collaborators: optimizer groups by depth (optim.py),
freezing, loss weighting, data-parallel training, seeds, checkpoints and resume
(checkpoint.py, run_checkpoints.py), progress, the metrics log and run.json (record.py)."""
