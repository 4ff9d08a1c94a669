"""Import threads and comments from a WordPress export (WXR) or mailbridge JSON.

The format is detected from the content, not the file name. Import is
idempotent: every comment remembers its id in the source file, so importing the
same file again adds nothing twice (and a file imported whole is known by its
hash and not read again: ``known_files``). Imported comments keep their status and
send no email.
"""

from __future__ import annotations

from mailbridge.importer.load import ImportReport, import_file
from mailbridge.importer.records import ImportedComment, ImportedThread, detect_format

__all__ = ["ImportReport", "ImportedComment", "ImportedThread", "detect_format", "import_file"]
