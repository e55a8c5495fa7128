"""model_server.models: model definitions the engine runs (HF Qwen2/Qwen3/Llama, Qwen3-MoE, the interaction model)."""
