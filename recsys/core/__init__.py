"""recsys.core."""
