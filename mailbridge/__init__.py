"""mailbridge: an email bridge for blog comment threads.

Importing this package does nothing but define names; everything is built in
:mod:`mailbridge.app` (the composition root) and started from :mod:`mailbridge.cli`.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
