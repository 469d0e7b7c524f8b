"""Fix hints for device files that cannot be opened: what an installer should do, by errno."""
from __future__ import annotations

import errno
from typing import Optional

_I2C = {
    errno.ENOENT: "I2C is not enabled: run `sudo raspi-config nonint do_i2c 0` (or add dtparam=i2c_arm=on to "
                  "/boot/firmware/config.txt) and reboot; `ls /dev/i2c-*` lists the buses",
    errno.EACCES: "no permission: add the service user to the i2c group (`sudo usermod -aG i2c kiosk`)",
}
_SERIAL = {
    errno.ENOENT: "no such port: check the cable; `ls /dev/serial/by-id/` lists USB adapters by a name that "
                  "does not change across reboots",
    errno.EACCES: "no permission: add the service user to the dialout group (`sudo usermod -aG dialout kiosk`)",
    errno.EBUSY: "the port is in use by another program (the serial console? `sudo raspi-config nonint "
                 "do_serial_cons 1`)",
}


def _errno(exc: BaseException) -> Optional[int]:
    code = getattr(exc, "errno", None)
    if code is None and exc.__cause__ is not None:
        code = getattr(exc.__cause__, "errno", None)
    return code if isinstance(code, int) else None


def i2c_hint(exc: BaseException) -> str:
    """'; <hint>' for an I2C bus that did not open, or ''."""
    hint = _I2C.get(_errno(exc) or 0)
    return f"; {hint}" if hint else ""


def serial_hint(exc: BaseException) -> str:
    """'; <hint>' for a serial port that did not open, or ''."""
    code = _errno(exc)
    if code is None and "busy" in str(exc).lower():
        code = errno.EBUSY
    hint = _SERIAL.get(code or 0)
    return f"; {hint}" if hint else ""
