"""[recognition]: matching thresholds and the frame-to-decision state machine."""
from __future__ import annotations

from enum import StrEnum
from typing import Optional

from pydantic import Field

from .base import Section


class SecurityLevel(StrEnum):
    """Names a false positive identification rate (SECURITY_LEVEL_FPIR): the share of strangers accepted
    as someone per walk-up. The distance threshold meeting it follows the number of templates enrolled."""

    low = "low"
    normal = "normal"
    high = "high"


# Share of strangers that may be accepted as someone per walk-up, per level. The one place to change
# them; the threshold in force is derived from the model's stranger scores (kiosk.face.openset).
SECURITY_LEVEL_FPIR: dict[SecurityLevel, float] = {
    SecurityLevel.low: 1e-2,
    SecurityLevel.normal: 3e-3,
    SecurityLevel.high: 1e-3,
}


class RecognitionConfig(Section):
    security_level: SecurityLevel = Field(SecurityLevel.normal,
                                          description="low, normal or high: the share of strangers accepted as "
                                                      "someone per walk-up (FPIR 1e-2/3e-3/1e-3).")
    fpir: Optional[float] = Field(None, gt=0, lt=1,
                                  description="FPIR override (share of strangers accepted per walk-up); unset = "
                                              "the security level's.")
    threshold: Optional[float] = Field(None, gt=0,
                                       description="Fixed distance threshold override (ignores the number enrolled); "
                                                   "unset = derived from the FPIR for the active model.")
    min_margin: float = Field(0.04, ge=0, le=1,
                              description="Least distance gap between the best and the second-best person.")
    confirm_frames: int = Field(3, ge=1, le=30, description="Agreeing frames needed before a decision.")
    fusion_frames: int = Field(8, ge=1, le=30,
                               description="Each frame is matched as the walk-up so far: the face's last this "
                                           "many good frames, fused (kiosk.recognition.fusion; 1 = each frame alone).")
    cooldown_s: float = Field(30.0, ge=0, le=86400, description="The same person is not decided again within this.")
    track_timeout_s: float = Field(2.0, gt=0, le=60, description="A face unseen this long ends its track.")
    retry_timeout_s: float = Field(10.0, gt=0, le=300, description="A person still asked to come closer, stand "
                                                                   "still or fix their mask after this is denied "
                                                                   "and asked to see staff.")
