"""KFP pipelines (one module per DAG) and the helpers that compile, run and schedule them."""
