"""recsys.learn."""
