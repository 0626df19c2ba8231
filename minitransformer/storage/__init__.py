"""Files on disk: the one atomic writer (atomic.py), the one place that tells model and run
directories apart (formats.py), and the safetensors format read and written by hand."""
