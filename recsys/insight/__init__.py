"""Insight into a trained model: what it recommends, to whom, and why.

Modules
-------
rules
    Which offers and which customers: ``ItemRule``, ``UserRule`` and the group label of every id.
groups
    Customer groups: per-group means with bootstrap intervals, gaps, and the four-fifths rule.
rerank
    Re-ranking (MMR diversity, boost or cap of an offer group) of lists and campaign scores.
tradeoff
    Held-out accuracy against diversity and parity of re-ranked lists, per strength.
audit
    The fairness audit of a model's recommendations, its findings in words, its trade-off curve.
"""

__all__ = [
    "rules",
    "groups",
    "rerank",
    "tradeoff",
    "audit",
]
