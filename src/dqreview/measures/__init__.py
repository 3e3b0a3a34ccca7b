"""Measures of a set of documents reported by the review (diversity, Vendi scores), not selection methods.

These modules do not follow the metric protocol of :mod:`dqreview.metrics` and are not in its registry:
they describe a selection (or the pool, or a reference set) after the fact.
"""
