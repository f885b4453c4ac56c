"""Health indices from run-to-failure data: DeepSAD/2DS embeddings fused by APAIC, and their metrics."""
