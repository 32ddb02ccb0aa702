"""cxloop: a customer-experience programme platform.

listen -> understand what matters -> act -> prove the return -> scale.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
