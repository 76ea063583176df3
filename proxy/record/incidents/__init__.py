"""The incident store: encrypted, tamper-evident, crash-safe record of blocked transfers.

    from proxy.record.incidents import IncidentStore, ensure_keys
    private_key = ensure_keys(data_dir)      # first start: warn loudly if not None
    store = IncidentStore(data_dir)          # a proxy.record.decisions.Recorder
    store.write(record)                      # durable (fsync) on return, or IncidentLogError

Modules: ``keys`` (reviewer X25519 / checkpoint Ed25519 keys), ``envelope`` (HPKE seal,
AES-GCM evidence), ``periods`` (per-day data keys, purge), ``framing`` (bytes on disk),
``log`` (segments, hash chain, forward-secure MACs, checkpoints, torn tails), ``store``
(the Recorder), ``index`` (SQLite review queue), ``review`` (reveal, triage, purge),
``verify``, ``export`` (ECS, OCSF, syslog), ``cli`` (``baomi incidents`` / ``baomi keys``).
"""

from proxy.record.incidents.keys import ensure_keys
from proxy.record.incidents.store import IncidentStore

__all__ = ["IncidentStore", "ensure_keys"]
