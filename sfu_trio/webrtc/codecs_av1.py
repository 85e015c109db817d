"""AV1 RTP payload (AV1 RTP specification v1.0, §4.4 aggregation header and §4.5 payload).

```
aggregation header  |Z|Y| W |N|-|-|-|   then OBU elements, each prefixed by a LEB128 length
                                        except the last one when W (element count) is not 0
OBU header          |0| type  |X|S|-|   and, if X, |TID|SID|-----|
```

N=1 marks the first packet of a coded video sequence, which is where a decoder can start: that
is the keyframe signal. Temporal and spatial ids come from the OBU extension header of the first
OBU that starts in this packet (None without one, e.g. when the packet is one continued OBU).
A frame starts where that first element is not a continuation (Z=0) and is a sequence header,
temporal delimiter, metadata, frame header or frame OBU.
"""

from __future__ import annotations

from sfu_trio.webrtc.frame_info import CodecParseError, VideoFrameInfo

__all__ = ["parse_av1_untrusted"]

Buffer = bytes | bytearray | memoryview

# OBU_SEQUENCE_HEADER, OBU_TEMPORAL_DELIMITER, OBU_FRAME_HEADER, OBU_METADATA, OBU_FRAME
_FRAME_START_OBUS = frozenset((1, 2, 3, 5, 6))


def _leb128(data: Buffer, pos: int, end: int) -> tuple[int, int]:
    """Decode a LEB128 value at `pos`: (value, offset after it)."""
    value = 0
    for i in range(8):
        if pos >= end:
            raise CodecParseError("AV1 OBU element length truncated")
        b = data[pos]
        pos += 1
        value |= (b & 0x7F) << (7 * i)
        if not b & 0x80:
            return value, pos
    raise CodecParseError("AV1 OBU element length longer than 8 bytes")


def parse_av1_untrusted(data: Buffer, start: int = 0, end: int | None = None) -> VideoFrameInfo:
    """Read the aggregation header (and first OBU header) of the RTP payload ``data[start:end]``."""
    if end is None:
        end = len(data)
    if start >= end:
        raise CodecParseError("empty AV1 payload")
    agg = data[start]
    keyframe = bool(agg & 0x08)
    count = agg >> 4 & 0x03
    continuation = bool(agg & 0x80)
    pos = start + 1
    if pos >= end:
        raise CodecParseError("AV1 payload has no OBU element")
    index = 0
    while pos < end:
        index += 1
        if count == 0 or index < count:
            size, pos = _leb128(data, pos, end)
            if size == 0 or pos + size > end:
                raise CodecParseError("AV1 OBU element overruns the payload")
            element_end = pos + size
        else:
            element_end = end
        if continuation and index == 1:
            pos = element_end
            continue
        header = data[pos]
        if header & 0x80:
            raise CodecParseError("AV1 OBU forbidden bit set")
        obu_type = header >> 3 & 0x0F
        frame_start = index == 1 and obu_type in _FRAME_START_OBUS
        if header & 0x04:
            if pos + 1 >= element_end:
                raise CodecParseError("AV1 OBU extension header truncated")
            ext = data[pos + 1]
            return VideoFrameInfo(
                keyframe, frame_start or keyframe, ext >> 5, ext >> 3 & 0x03, None, None, keyframe
            )
        return VideoFrameInfo(keyframe, frame_start or keyframe, layer_sync=keyframe)
    return VideoFrameInfo(keyframe, keyframe, layer_sync=keyframe)
