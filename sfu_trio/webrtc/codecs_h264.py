"""H.264 RTP payload (RFC 6184), non-interleaved mode: single NAL unit, STAP-A and FU-A.

```
NAL unit header   |F|NRI|  Type   |   Type 1-23: a single NAL unit is the whole payload
STAP-A (24)       header, then (16-bit size, NAL unit) repeated
FU-A (28)         FU indicator |F|NRI| 28 |, FU header |S|E|R| Type |, fragment
```

A keyframe starts at a packet holding an IDR slice (type 5) or an SPS (type 7): browsers send
SPS and PPS right before every IDR picture, so the SPS is where a decoder can start. A frame
starts at a packet whose first NAL unit is an access unit delimiter, SEI, SPS, PPS, or a slice
with first_mb_in_slice = 0 (its Exp-Golomb code is the single bit 1). Interleaved-mode packets
(STAP-B, MTAP, FU-B) and reserved types raise CodecParseError.
"""

from __future__ import annotations

from sfu_trio.webrtc.frame_info import CodecParseError, VideoFrameInfo

__all__ = ["parse_h264_untrusted"]

Buffer = bytes | bytearray | memoryview

_SLICE = 1
_IDR = 5
_SPS = 7
_STAP_A = 24
_FU_A = 28
# NAL unit types that begin an access unit (SEI, SPS, PPS, access unit delimiter)
_AU_PREFIX = frozenset((6, 7, 8, 9))


def _starts_frame(data: Buffer, nal_type: int, slice_header: int, end: int) -> bool:
    if nal_type in _AU_PREFIX:
        return True
    if nal_type in (_SLICE, _IDR):
        return slice_header < end and data[slice_header] >= 0x80
    return False


def parse_h264_untrusted(data: Buffer, start: int = 0, end: int | None = None) -> VideoFrameInfo:
    """Read the NAL unit header(s) of the RTP payload ``data[start:end]``."""
    if end is None:
        end = len(data)
    if start >= end:
        raise CodecParseError("empty H264 payload")
    nal_type = data[start] & 0x1F
    if 0 < nal_type < _STAP_A:
        keyframe = nal_type in (_IDR, _SPS)
        frame_start = _starts_frame(data, nal_type, start + 1, end)
        return VideoFrameInfo(keyframe, frame_start, layer_sync=keyframe)
    if nal_type == _FU_A:
        if start + 2 > end:
            raise CodecParseError("H264 FU-A header truncated")
        fu = data[start + 1]
        if not fu & 0x80:  # not the first fragment
            return VideoFrameInfo(False, False)
        inner = fu & 0x1F
        if not 0 < inner < _STAP_A:
            raise CodecParseError(f"H264 FU-A carries NAL unit type {inner}")
        keyframe = inner in (_IDR, _SPS)
        frame_start = _starts_frame(data, inner, start + 2, end)
        return VideoFrameInfo(keyframe, frame_start, layer_sync=keyframe)
    if nal_type == _STAP_A:
        pos = start + 1
        keyframe = False
        first = -1
        first_at = first_end = 0
        while pos < end:
            if pos + 2 > end:
                raise CodecParseError("H264 STAP-A size truncated")
            size = data[pos] << 8 | data[pos + 1]
            pos += 2
            if size == 0 or pos + size > end:
                raise CodecParseError("H264 STAP-A NAL unit overruns the payload")
            inner = data[pos] & 0x1F
            if not 0 < inner < _STAP_A:
                raise CodecParseError(f"H264 STAP-A carries NAL unit type {inner}")
            if first < 0:
                first, first_at, first_end = inner, pos, pos + size
            if inner in (_IDR, _SPS):
                keyframe = True
            pos += size
        if first < 0:
            raise CodecParseError("empty H264 STAP-A")
        frame_start = _starts_frame(data, first, first_at + 1, first_end)
        return VideoFrameInfo(keyframe, frame_start, layer_sync=keyframe)
    raise CodecParseError(f"unsupported H264 NAL unit type {nal_type}")
