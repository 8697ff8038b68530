"""tunebench's benchmarks: tunebench against plain training scripts on identical work.

`python -m bench [--quick]` (or `make bench`, `make bench-quick`) trains the same model on the
same data with the same batch size, epochs, learning rate and seed, once through tunebench and
once through each baseline, and reports training samples/s and test accuracy side by side.
"""
