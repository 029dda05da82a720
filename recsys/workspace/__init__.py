"""recsys.workspace."""
