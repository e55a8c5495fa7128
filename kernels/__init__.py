"""kernels: Triton kernels for the streaming-session workload, each with a PyTorch reference."""
