"""medbook: causal mediation analysis, with a book and decision memos that compute themselves.

The front door is :func:`mediate`; see the book for a guided tour.
"""

from __future__ import annotations

__version__ = "0.1.0"
