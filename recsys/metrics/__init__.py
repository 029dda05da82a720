"""recsys.metrics."""
