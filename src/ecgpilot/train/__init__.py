"""Training the PTB-XL classifier (PyTorch; only in the ``[train]`` extra)."""
