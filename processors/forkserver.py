"""Imported by multiprocessing's fork server as it starts (`processors.pool` preloads it).

The fork server is in the worker's process group, so stopping the worker's group (SIGTERM, as
an orchestrator or the tests do) reached it too. Its death reads, to the pool, as the death of
every child it forked — their in-flight media failed as "decoder crashed" while the worker was
stopping cleanly. So it ignores SIGTERM; it still ends once the worker and the children are
gone (its "alive" pipe closes), and SIGKILL still ends it.
"""

import signal

signal.signal(signal.SIGTERM, signal.SIG_IGN)
