"""Perception above the face and thermal pipelines: who is this (matching, fusion, the recognizer), enrollment,
and the observations handed up to the decision layer. Imports nothing from kiosk.access or above."""
