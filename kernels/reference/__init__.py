"""PyTorch references for the Triton kernels, used by tests and the torch attention backend."""
