"""A small config file named on the command line (a CredentialProviderConfig, a registries.conf), read whole
but bounded: one ``InputError`` line names the option, the file and what is wrong (unreadable, not a regular
file, too large, not UTF-8); the parsers then only parse."""

from __future__ import annotations

import stat
from pathlib import Path

from pulldoctor.errors import InputError
from pulldoctor.redact import printable


def read_text(path: str | Path, option: str, cap: int) -> str:
    """The file's text; ``option`` (``--registries-conf``) starts every error line."""
    p = Path(path)
    where = f"{option} {printable(str(p))}"
    try:
        if not stat.S_ISREG(p.stat().st_mode):  # a FIFO would block for ever, a device never end
            raise InputError(f"{where}: not a regular file")
        with p.open("rb") as fh:
            raw = fh.read(cap + 1)
    except OSError as err:
        raise InputError(f"{where}: {printable(err.strerror or type(err).__name__)}") from None
    if len(raw) > cap:
        raise InputError(f"{where}: larger than {cap} bytes")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InputError(f"{where}: not UTF-8 text (at byte {err.start})") from None
