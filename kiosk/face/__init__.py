"""Face pipeline: detect, check quality, align, embed and score masks, on device with TFLite models.

Entry point: `kiosk.face.pipeline.FacePipeline`.
"""
