"""recsys.campaign."""
