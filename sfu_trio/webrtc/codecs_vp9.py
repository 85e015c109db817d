"""VP9 RTP payload descriptor (RFC 9628 §4.2, formerly draft-ietf-payload-vp9).

```
 0 1 2 3 4 5 6 7
|I|P|L|F|B|E|V|Z|  required
|M| PICTURE ID  |  if I (M=1: 15-bit, one more byte)
|  PICTURE ID   |  if M
|TID|U| SID |D  |  if L
|   TL0PICIDX   |  if L and F=0 (non-flexible mode)
|P_DIFF       |N|  if F=1 and P, repeated while N=1 (at most 3)
|  SS           |  if V (scalability structure, §4.2.1)
```

A keyframe starts where B=1 (start of a layer frame), P=0 (not inter-picture predicted) and
the spatial layer is the base one (SID=0, or no layer indices at all).
"""

from __future__ import annotations

from sfu_trio.webrtc.frame_info import CodecParseError, VideoFrameInfo

__all__ = ["parse_vp9_untrusted"]

Buffer = bytes | bytearray | memoryview


def _skip_scalability_structure(data: Buffer, pos: int, end: int) -> int:
    """Validate the SS at `pos` and return the offset after it."""
    if pos >= end:
        raise CodecParseError("VP9 scalability structure truncated")
    b = data[pos]
    pos += 1
    if b & 0x10:  # Y: a WIDTH and HEIGHT per spatial layer
        pos += 4 * ((b >> 5) + 1)
    if b & 0x08:  # G: picture group description
        if pos >= end:
            raise CodecParseError("VP9 SS picture group truncated")
        groups = data[pos]
        pos += 1
        for _ in range(groups):
            if pos >= end:
                raise CodecParseError("VP9 SS picture group truncated")
            pos += 1 + (data[pos] >> 2 & 0x03)
    if pos > end:
        raise CodecParseError("VP9 scalability structure overruns the payload")
    return pos


def parse_vp9_untrusted(data: Buffer, start: int = 0, end: int | None = None) -> VideoFrameInfo:
    """Read the VP9 descriptor of the RTP payload ``data[start:end]`` (raises CodecParseError)."""
    if end is None:
        end = len(data)
    if start >= end:
        raise CodecParseError("empty VP9 payload")
    b0 = data[start]
    pos = start + 1
    picture_id: int | None = None
    if b0 & 0x80:
        if pos >= end:
            raise CodecParseError("VP9 picture id truncated")
        p = data[pos]
        if p & 0x80:
            if pos + 1 >= end:
                raise CodecParseError("VP9 15-bit picture id truncated")
            picture_id = (p & 0x7F) << 8 | data[pos + 1]
            pos += 2
        else:
            picture_id = p
            pos += 1
    inter_picture = bool(b0 & 0x40)
    flexible = bool(b0 & 0x10)
    temporal_id: int | None = None
    spatial_id: int | None = None
    tl0picidx: int | None = None
    switch_up = False
    if b0 & 0x20:
        if pos >= end:
            raise CodecParseError("VP9 layer indices truncated")
        li = data[pos]
        pos += 1
        temporal_id = li >> 5
        switch_up = bool(li & 0x10)
        spatial_id = li >> 1 & 0x07
        if not flexible:
            if pos >= end:
                raise CodecParseError("VP9 TL0PICIDX truncated")
            tl0picidx = data[pos]
            pos += 1
    if flexible and inter_picture:
        for _ in range(3):
            if pos >= end:
                raise CodecParseError("VP9 reference indices truncated")
            more = data[pos] & 0x01
            pos += 1
            if not more:
                break
        else:
            raise CodecParseError("VP9 has more than 3 reference indices")
    if b0 & 0x02:
        pos = _skip_scalability_structure(data, pos, end)
    if pos > end:
        raise CodecParseError("VP9 descriptor overruns the payload")
    frame_start = bool(b0 & 0x08)
    keyframe = frame_start and not inter_picture and not spatial_id
    return VideoFrameInfo(
        keyframe,
        frame_start,
        temporal_id,
        spatial_id,
        picture_id,
        tl0picidx,
        keyframe or switch_up,
    )
