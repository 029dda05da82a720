"""recsys.data."""
