"""The decision layer: tracker, policy, events and attendance, and the gate, door and feedback they drive.
Reads what kiosk.recognition observed; imports nothing from the service, web, MQTT or command layers."""
