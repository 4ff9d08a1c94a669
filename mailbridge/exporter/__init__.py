"""Export threads and comments so that a site can leave (docs/importing.md#exporting).

``source`` reads the store a chunk at a time; ``wxr``, ``json_format`` and ``disqus``
write WordPress's WXR, mailbridge's own JSON and a Disqus-style XML, streaming, so an
export never holds a large site in memory. Each is read back by ``mailbridge import``.
"""

from mailbridge.exporter.write import FORMATS, export

__all__ = ["FORMATS", "export"]
