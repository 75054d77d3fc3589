"""A TCP port that accepts connections and never answers: dial succeeds, every read waits forever.

Runs as a daemon thread in the test process (no child process to leak). Accepted sockets are kept open,
bounded in number, so the peer sees neither data nor a close.
"""

from __future__ import annotations

import socket
import threading
from collections import deque


class Blackhole:
    MAX_HELD = 256

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self._sock.settimeout(0.2)
        self.address = f"127.0.0.1:{self._sock.getsockname()[1]}"
        self._held: deque[socket.socket] = deque()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lab-blackhole", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._held.append(conn)
            while len(self._held) > self.MAX_HELD:
                self._held.popleft().close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._sock.close()
        while self._held:
            self._held.popleft().close()
