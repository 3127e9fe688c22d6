"""What a video file's container declares about its own size (RIFF/AVI, ISO BMFF/MP4/MOV,
Matroska/WebM): a file shorter than that was cut short. decord decodes the frames that survive a
cut AVI as if they were the whole video, so a cut file is only recognised this way; the dataset,
the pre-training check and ``check-data`` all ask :func:`shortfall`."""
from __future__ import annotations

import os
from typing import Optional


def _vint(b: bytes, i: int) -> tuple[int, int]:
    """A Matroska variable-size integer at ``b[i]`` -> (value, length); value -1 for 'unknown'."""
    n = 9 - b[i].bit_length() if i < len(b) and b[i] else 9
    if n > 8 or i + n > len(b):
        return -1, 1
    v = int.from_bytes(b[i:i + n], "big") & ((1 << (7 * n)) - 1)
    return (-1 if v == (1 << (7 * n)) - 1 else v), n


def declared_size(path) -> Optional[int]:
    """The byte count a video's container declares (RIFF/AVI, ISO BMFF/MP4/MOV, Matroska/WebM),
    None where it declares none. decord decodes the frames that survive a cut AVI as if they
    were the whole video, so a cut file is only recognised by its size."""
    with open(path, "rb") as f:
        head = f.read(64)
        if head[:4] == b"RIFF":  # AVI; OpenDML (> 1 GB) files chain 'RIFF AVIX' chunks
            end = 0
            while head[:4] == b"RIFF":
                n = int.from_bytes(head[4:8], "little")
                if n in (0, 0xFFFFFFFF):  # left unset by a writer that could not seek back
                    return None
                end += 8 + n + (n & 1)
                f.seek(end)
                head = f.read(8)
            return end
        if head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide"):  # ISO BMFF boxes
            end = 0
            while len(head) >= 8:
                n = int.from_bytes(head[:4], "big")
                n = int.from_bytes(head[8:16], "big") if n == 1 else n
                if n < 8:  # 0: 'up to the end of the file'
                    return None
                end += n
                f.seek(end)
                head = f.read(16)
            return end
        if head[:4] == b"\x1a\x45\xdf\xa3":  # Matroska/WebM: EBML header, then the Segment
            n, k = _vint(head, 4)
            i = 4 + k + n
            if n < 0 or head[i:i + 4] != b"\x18\x53\x80\x67":
                return None
            n, k = _vint(head, i + 4)
            return None if n < 0 else i + 4 + k + n
    return None


def shortfall(path) -> Optional[str]:
    """'N of the M bytes its container declares' when ``path`` is shorter than its container
    header says (a cut file), else None."""
    size, declared = os.path.getsize(path), declared_size(path)
    if declared is None or declared <= size:
        return None
    return f"{size} of the {declared} bytes its container declares"
