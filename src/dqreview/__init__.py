"""dq-review: measure data-quality metrics for language-model pretraining, end to end."""

__version__ = "0.1.0"
