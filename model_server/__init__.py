"""model_server: streaming sessions for interaction models on a paged KV cache."""
