"""model_server.training: data generation and training for the embedded interaction model."""
