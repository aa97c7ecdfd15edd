# cython: language_level=3
"""Internet checksum (RFC 1071) and the VRRP variants, compiled.

Twin of ``checksum_py`` (see there for the contract): same names, same results.
"""

from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from libc.stdint cimport uint8_t, uint32_t, uint64_t

from _csum cimport fold16, pseudo_sum, sum_bytes

IPPROTO_VRRP = 112
IPPROTO_ICMPV6 = 58


cdef inline uint32_t _initial(long long initial) except? 0xFFFFFFFF:
    if initial < 0 or initial > 0xFFFF:
        raise ValueError(f"initial partial sum {initial} out of range 0..65535")
    return <uint32_t>initial


def ones_sum(data, long long initial=0):
    """Folded one's complement sum of ``data`` as big-endian 16-bit words (odd tail padded with 0)."""
    cdef uint32_t init = _initial(initial)
    cdef Py_buffer view
    cdef uint32_t total
    PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
    with nogil:
        total = sum_bytes(<const uint8_t*>view.buf, view.len)
    PyBuffer_Release(&view)
    return fold16(<uint64_t>total + init)


def internet_checksum(data, long long initial=0):
    """RFC 1071 checksum of ``data`` (plus a partial sum ``initial``): the value a header carries."""
    cdef uint32_t init = _initial(initial)
    cdef Py_buffer view
    cdef uint32_t total
    PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
    if view.len < 4096:
        total = sum_bytes(<const uint8_t*>view.buf, view.len)
    else:
        with nogil:
            total = sum_bytes(<const uint8_t*>view.buf, view.len)
    PyBuffer_Release(&view)
    return (~fold16(<uint64_t>total + init)) & 0xFFFF


def pseudo_header_sum(src, dst, long long length, int proto=IPPROTO_VRRP):
    """Partial sum of the IPv4 (4-byte addresses) or IPv6 (16-byte) upper-layer pseudo-header."""
    cdef Py_buffer s, d
    cdef uint32_t total
    PyObject_GetBuffer(src, &s, PyBUF_SIMPLE)
    try:
        PyObject_GetBuffer(dst, &d, PyBUF_SIMPLE)
        try:
            if s.len != d.len or s.len not in (4, 16):
                raise ValueError(f"pseudo-header needs two IPv4 or two IPv6 addresses, "
                                 f"got {s.len} and {d.len} bytes")
            if not 0 <= length <= 0xFFFFFFFF or not 0 <= proto <= 0xFF:
                raise ValueError(f"pseudo-header length {length} or protocol {proto} out of range")
            if s.len == 4 and length > 0xFFFF:
                raise ValueError(f"IPv4 pseudo-header length {length} does not fit 16 bits")
            total = pseudo_sum(<const uint8_t*>s.buf, <const uint8_t*>d.buf, s.len,
                               <uint32_t>length, <uint32_t>proto)
        finally:
            PyBuffer_Release(&d)
    finally:
        PyBuffer_Release(&s)
    return total


def vrrp_checksum(msg, int version, src=b"", dst=b"", bint v3_checksum_as_v2=False):
    """Checksum a VRRP message should carry; its own checksum field (bytes 6-7) counts as zero.

    v2, and v3 with ``v3_checksum_as_v2``: the message only. v3: the IPv4 or IPv6 pseudo-header
    of ``src`` and the real destination ``dst`` (group or unicast peer), protocol 112.
    """
    cdef Py_buffer view
    cdef uint64_t total
    cdef const uint8_t* p
    PyObject_GetBuffer(msg, &view, PyBUF_SIMPLE)
    try:
        if view.len < 8:
            raise ValueError(f"VRRP message of {view.len} bytes is shorter than its 8-byte header")
        total = 0
        if version != 2 and not v3_checksum_as_v2:
            total = pseudo_header_sum(src, dst, view.len)
        p = <const uint8_t*>view.buf
        total += sum_bytes(p, 6)
        total += sum_bytes(p + 8, view.len - 8)
    finally:
        PyBuffer_Release(&view)
    return (~fold16(total)) & 0xFFFF


def update_checksum(int checksum, int old_word, int new_word):
    """RFC 1624 eqn. 3: the checksum after one 16-bit word of the covered data changed.

    Exact for any data that does not become all zero (a VRRP message never does).
    """
    cdef uint64_t total = (~checksum & 0xFFFF) + (~old_word & 0xFFFF) + (new_word & 0xFFFF)
    return (~fold16(total)) & 0xFFFF
