"""Components of the fault-detection pipeline, one module per step."""
