"""The daemon's stages: small classes with explicit dependencies, each run as one asyncio task.

    RecognitionStage (recognition.py)  frames -> inference thread -> results
    DecisionStage (decision.py)        results -> tracker + policy -> feedback, events, gate
    EventWriter (event_writer.py)      events -> store thread (local log) -> MQTT outbox
    upkeep.py                          health report, watchdog, attendance ledger, retention, store follow

kiosk/service/daemon.py wires them to the services of kiosk/service/services.py; tests drive each one with fakes.
"""
