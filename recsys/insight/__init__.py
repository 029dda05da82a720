"""recsys.insight."""
