"""The live bridge to a WordPress site's comments, both ways (docs/wordpress.md).

``client`` speaks WordPress's REST API; ``pull`` mirrors what WordPress publishes,
decides, edits and deletes; ``push`` brings mailbridge's comments and decisions
there; ``posts`` closes a thread here when its post's comments close there;
``bridge`` runs them in one loop; ``links`` is their tables; ``lag`` is what
``mailbridge status`` shows of it.
"""

from mailbridge.bridges.wordpress.bridge import WordPressBridge

__all__ = ["WordPressBridge"]
