"""CPU-bound work in processes of its own, so a second core does it (issue 14).

The event loop's process holds Python's lock for everything it runs; reading a
reply's words out of its MIME and composing a moderation email were most of that.
:class:`CpuPool` runs such pure functions (bytes and plain data in, bytes and plain
data out) in worker processes, and in a thread of the daemon's own process when
``[inbound] cpu_processes`` is 0.
"""

from mailbridge.workers.pool import CpuPool, WorkerLost

__all__ = ["CpuPool", "WorkerLost"]
