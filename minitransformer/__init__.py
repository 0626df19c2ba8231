"""minitransformer: a from-scratch, educational sentence transformer."""
