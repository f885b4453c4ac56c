"""The KServe model server for Shopfloor's registered models (v1 and Open Inference Protocol v2)."""
