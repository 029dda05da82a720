"""What the data and the models say, from frames, a ``Dataset`` and a model (never a workspace).

Modules, one idea each:

- ``attribution``: exact Shapley attributions of the hybrid model's scores (``Baseline``, ``ScoreExplainer``).
- ``recommend``: a customer's explained top-k (page and CLI alike) and the frame helpers around it.
- ``drivers``: what drives one offer's score across customers; evidence for identity features.
- ``whatif``: a customer's explained list before and after changing one of their facts.
- ``segments``: ``Segmentation``, segments by customer columns, active customers over time.
- ``rfm``: recency, frequency and monetary value, and the named RFM segments.
- ``clusters``: behavioural clusters of the model's customers and their 2-D map.
- ``lift``: trait and offer-type lift, response rates per segment x offer type.
- ``profiles``: segment profile cards and the offers the model picks for a segment.
- ``rules``: which offers and which customers form a group (``ItemRule``, ``UserRule``, group labels).
- ``groups``: per-group means with bootstrap intervals, gaps, and the four-fifths rule.
- ``rerank``: re-ranking (MMR diversity, boost or cap of an offer group) of lists and campaign scores.
- ``tradeoff``: held-out accuracy against diversity and parity of re-ranked lists, per strength.
- ``audit``: the fairness audit of a model's recommendations, its findings in words, its trade-off curve.
"""

__all__ = [
    "attribution",
    "recommend",
    "drivers",
    "whatif",
    "segments",
    "rfm",
    "clusters",
    "lift",
    "profiles",
    "rules",
    "groups",
    "rerank",
    "tradeoff",
    "audit",
]
