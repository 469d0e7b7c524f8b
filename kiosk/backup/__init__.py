"""`kiosk backup` / `kiosk restore`: the state that matters (database, keys, signed audit head, calibration,
attendance ledger) as one archive sealed under a passphrase; see `state.py` for what is in it."""
from .archive import BackupError
from .collect import Backup, collect
from .restore import Restored, restore

__all__ = ["Backup", "BackupError", "Restored", "collect", "restore"]
