"""People, enrollment data and privacy: the encrypted person database, signed event log and audit ledger.

Entry point: `Store.open(config)`; see `store.py` for the API and `database.py` for the thread rule.
"""
from .consent import Consent, parse_consent
from .errors import ConsentError, KeyFileError, PersonNotFound, RecordError, StoreError, TemplateKeyError
from .keys import init_keys, load_public_key
from .persons import Person, TemplateInfo
from .signing import canonical, verify_event
from .store import EnrollResult, MatchAttempt, RetentionReport, Store

__all__ = ["Consent", "ConsentError", "EnrollResult", "KeyFileError", "MatchAttempt", "Person", "PersonNotFound", "RecordError",
           "RetentionReport", "Store", "StoreError", "TemplateInfo", "TemplateKeyError", "canonical", "init_keys",
           "load_public_key", "parse_consent", "verify_event"]
