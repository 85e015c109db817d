"""VP8 RTP payload descriptor (RFC 7741 §4.2): parse it, and rewrite its picture ids in place.

```
 0 1 2 3 4 5 6 7
|X|R|N|S|R| PID |  required
|I|L|T|K|  RSV  |  if X
|M| PictureID   |  if I (M=1: 15-bit PictureID, one more byte)
|   PictureID   |  if M
|   TL0PICIDX   |  if L
|TID|Y| KEYIDX  |  if T or K
```

After the descriptor comes the VP8 payload; in the first packet of a frame (S=1, PID=0) its first
byte holds the P bit (RFC 6386 §9.1, "inverse key frame flag"): 0 means a keyframe.
"""

from __future__ import annotations

from sfu_trio.webrtc.frame_info import CodecParseError, VideoFrameInfo

__all__ = ["parse_vp8_untrusted", "rewrite_vp8_picture_id"]

Buffer = bytes | bytearray | memoryview


def _extension_offsets(data: Buffer, start: int, end: int) -> tuple[int, int, int, int]:
    """Offsets of (PictureID, TL0PICIDX, TID/KEYIDX, payload) in `data`; -1 when absent.

    The PictureID offset is ``offset | 0x10000`` when the PictureID is 15 bits long.
    """
    if start >= end:
        raise CodecParseError("empty VP8 payload")
    pos = start + 1
    pic = tl0 = tid = -1
    if data[start] & 0x80:
        if pos >= end:
            raise CodecParseError("VP8 descriptor truncated after the X bit")
        x = data[pos]
        pos += 1
        if x & 0x80:
            if pos >= end:
                raise CodecParseError("VP8 PictureID truncated")
            if data[pos] & 0x80:
                pic = pos | 0x10000
                pos += 2
            else:
                pic = pos
                pos += 1
        if x & 0x40:
            tl0 = pos
            pos += 1
        if x & 0x30:
            tid = pos
            pos += 1
    if pos >= end:
        raise CodecParseError("VP8 descriptor leaves no payload")
    return pic, tl0, tid, pos


def parse_vp8_untrusted(data: Buffer, start: int = 0, end: int | None = None) -> VideoFrameInfo:
    """Read the VP8 descriptor of the RTP payload ``data[start:end]`` (raises CodecParseError)."""
    if end is None:
        end = len(data)
    pic, tl0, tid, payload = _extension_offsets(data, start, end)
    b0 = data[start]
    frame_start = b0 & 0x1F == 0x10  # S=1 and PID=0
    keyframe = frame_start and not data[payload] & 0x01
    picture_id: int | None = None
    if pic >= 0:
        if pic & 0x10000:
            pic &= 0xFFFF
            picture_id = (data[pic] & 0x7F) << 8 | data[pic + 1]
        else:
            picture_id = data[pic]
    temporal_id: int | None = None
    layer_sync = keyframe
    if tid >= 0 and data[start + 1] & 0x20:  # T bit: TID and Y are meaningful
        t = data[tid]
        temporal_id = t >> 6
        layer_sync = layer_sync or bool(t & 0x20)
    return VideoFrameInfo(
        keyframe,
        frame_start,
        temporal_id,
        None,
        picture_id,
        data[tl0] if tl0 >= 0 else None,
        layer_sync,
    )


def rewrite_vp8_picture_id(
    buf: bytearray, payload_offset: int, picture_id: int | None, tl0picidx: int | None
) -> bool:
    """Overwrite the PictureID and TL0PICIDX of the VP8 descriptor at ``buf[payload_offset:]``.

    A 15-bit PictureID (M=1) gets ``picture_id & 0x7FFF``; a 7-bit one gets ``picture_id & 0x7F``
    (the field cannot grow in place, so that subscriber sees ids continuous modulo 128, which is
    what a 7-bit sender gives anyway). A field the descriptor does not have, or a None argument,
    is left alone. Returns whether anything was written. Raises CodecParseError on a malformed
    descriptor.
    """
    pic, tl0, _tid, _payload = _extension_offsets(buf, payload_offset, len(buf))
    written = False
    if pic >= 0 and picture_id is not None:
        if pic & 0x10000:
            pic &= 0xFFFF
            buf[pic] = 0x80 | (picture_id >> 8 & 0x7F)
            buf[pic + 1] = picture_id & 0xFF
        else:
            buf[pic] = picture_id & 0x7F
        written = True
    if tl0 >= 0 and tl0picidx is not None:
        buf[tl0] = tl0picidx & 0xFF
        written = True
    return written
