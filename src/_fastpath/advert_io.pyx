# cython: language_level=3
"""Batched VRRP advert receive and send on raw IPPROTO_VRRP sockets (compiled twin).

Same names and behaviour as advert_io_py.py: `AdvertSocket.recv_batch()` drains a socket
with one recvmmsg, `AdvertSender.fire(now)` sends every due advert with one sendmmsg per
socket from prebuilt packets (only the IPv4 ID is patched per send), keeping each slot's
schedule on its ideal grid. Neither allocates a Python object per advert sent.
"""

from libc.stdlib cimport malloc, calloc, realloc, free
from libc.string cimport memcmp, memcpy, memset
from libc.errno cimport errno, EINTR, EAGAIN, ENOBUFS
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t
from libc.math cimport floor, INFINITY
from cpython.bytes cimport PyBytes_FromStringAndSize

import socket as _socket
import struct as _struct

IMPLEMENTATION = "compiled"
IPPROTO_VRRP = 112
RX_BUFFER_SIZE = 4608
# Upper bounds of the send-gap histogram: gap between two scheduled adverts of one instance
# as a multiple of its interval (1.0 = on time; the last bucket, +Inf, is implicit).
GAP_BOUNDS = (0.5, 0.9, 0.99, 1.001, 1.01, 1.02, 1.05, 1.1, 1.25, 1.5, 2.0, 3.0)
cdef enum:
    N_GAP_BOUNDS = 12
cdef double[N_GAP_BOUNDS] _gap_bounds
for _i, _b in enumerate(GAP_BOUNDS):
    _gap_bounds[_i] = _b


cdef extern from "<sys/socket.h>" nogil:
    ctypedef unsigned int socklen_t
    struct iovec:
        void *iov_base
        size_t iov_len
    struct msghdr:
        void *msg_name
        socklen_t msg_namelen
        iovec *msg_iov
        size_t msg_iovlen
        void *msg_control
        size_t msg_controllen
        int msg_flags
    struct mmsghdr:
        msghdr msg_hdr
        unsigned int msg_len
    struct cmsghdr:
        size_t cmsg_len
        int cmsg_level
        int cmsg_type
    cmsghdr *CMSG_FIRSTHDR(msghdr *)
    cmsghdr *CMSG_NXTHDR(msghdr *, cmsghdr *)
    unsigned char *CMSG_DATA(cmsghdr *)
    int recvmmsg(int, mmsghdr *, unsigned int, int, void *)
    int sendmmsg(int, mmsghdr *, unsigned int, int)
    int MSG_DONTWAIT
    int MSG_DONTROUTE

cdef extern from "<netinet/in.h>" nogil:
    int IPPROTO_IPV6
    int IPV6_PKTINFO
    int IPV6_HOPLIMIT
    int AF_INET
    int AF_INET6
    struct in6_addr:
        unsigned char s6_addr[16]
    struct sockaddr_in6:
        unsigned short sin6_family
        unsigned short sin6_port
        uint32_t sin6_flowinfo
        in6_addr sin6_addr
        uint32_t sin6_scope_id
    struct sockaddr_in:
        unsigned short sin_family
        unsigned short sin_port
        uint32_t sin_addr               # struct in_addr, network order

cdef extern from "<time.h>" nogil:
    struct timespec:
        long tv_sec
        long tv_nsec
    int CLOCK_MONOTONIC
    int CLOCK_REALTIME
    int clock_gettime(int clk, timespec *tp)

cdef extern from "<poll.h>" nogil:
    struct pollfd:
        int fd
        short events
        short revents
    int poll(pollfd *fds, unsigned long nfds, int timeout)
    short POLLOUT

cdef enum:
    TX_FULL_WAITS = 20       # at most this many short waits per flush ...
    TX_FULL_WAIT_MS = 1      # ... of this long, before a message is dropped

cdef enum:
    SOL_SOCKET_ = 1
    SCM_TIMESTAMPNS_ = 35    # SO_TIMESTAMPNS on 64-bit Linux (asm-generic/socket.h)

cdef enum:
    RX_BUF = 4608
    RX_CTRL = 160
    NAME_SIZE = 28       # sizeof(struct sockaddr_in6)
    TX_CTRL = 64


cdef inline bint _is_multicast(const unsigned char *addr, int n) noexcept nogil:
    if n == 4:
        return (addr[0] & 0xF0) == 0xE0
    return addr[0] == 0xFF


def is_multicast(bytes addr):
    """Packed IPv4/IPv6 address is multicast (224.0.0.0/4, ff00::/8)."""
    return bool(_is_multicast(<const unsigned char *>addr, len(addr)))


def ipv4_header(bytes src, bytes dst, int payload_len, int ttl):
    """keepalived's advert IPv4 header: TOS 0xC0, no DF, protocol 112, ID patched per send."""
    return _struct.pack("!BBHHHBBH4s4s", 0x45, 0xC0, 20 + payload_len, 0, 0, ttl & 0xFF,
                        IPPROTO_VRRP, 0, src, dst)


cdef struct Shortcut:
    bint armed
    bint tripped          # a different packet for this VRID came: disarmed, awaiting flush
    unsigned char *payload
    int plen
    unsigned char src[16]
    unsigned char dst[16]
    int alen
    int ttl
    double hold           # the backup's master-down interval for this advert
    double last_rx
    uint64_t count


cdef struct TxPacket:
    unsigned char *data
    size_t len
    unsigned char name[NAME_SIZE]
    socklen_t namelen
    unsigned char ctrl[TX_CTRL]
    size_t ctrllen
    bint dontroute


cdef class AdvertSocket:
    """One raw VRRP socket for an interface and family, shared by all VRIDs on it."""

    cdef readonly object sock
    cdef readonly int family
    cdef readonly int ifindex
    cdef readonly int batch
    cdef readonly uint64_t rx_packets, rx_errors, tx_packets, tx_errors
    cdef readonly int last_errno
    cdef readonly double last_rx       # kernel receive time of the last packet read (0: none yet)
    cdef int fd
    # receive buffers: one block, `batch` slots
    cdef mmsghdr *rx_msgs
    cdef iovec *rx_iov
    cdef unsigned char *rx_bufs
    cdef unsigned char *rx_ctrl
    cdef unsigned char *rx_names
    # send queues: [0] normal, [1] MSG_DONTROUTE
    cdef mmsghdr *tx_msgs[2]
    cdef iovec *tx_iov[2]
    cdef unsigned int tx_n[2]
    cdef unsigned int tx_cap[2]
    # steady-state shortcut, per VRID (see arm_shortcut)
    cdef Shortcut *shortcuts
    cdef readonly uint64_t rx_absorbed

    def __cinit__(self, sock, int ifindex, int batch=64):
        cdef int q
        self.shortcuts = <Shortcut *>calloc(256, sizeof(Shortcut))
        if self.shortcuts == NULL:
            raise MemoryError()
        self.sock = sock
        self.fd = sock.fileno()
        self.family = int(sock.family)
        self.ifindex = ifindex
        self.batch = batch if batch > 0 else 1
        self.rx_msgs = <mmsghdr *>calloc(self.batch, sizeof(mmsghdr))
        self.rx_iov = <iovec *>calloc(self.batch, sizeof(iovec))
        self.rx_bufs = <unsigned char *>malloc(self.batch * RX_BUF)
        self.rx_ctrl = <unsigned char *>malloc(self.batch * RX_CTRL)
        self.rx_names = <unsigned char *>malloc(self.batch * NAME_SIZE)
        if not (self.rx_msgs and self.rx_iov and self.rx_bufs and self.rx_ctrl and self.rx_names):
            raise MemoryError()
        for q in range(2):
            self.tx_msgs[q] = NULL
            self.tx_iov[q] = NULL
            self.tx_n[q] = 0
            self.tx_cap[q] = 0

    def __dealloc__(self):
        cdef int q, v
        if self.shortcuts != NULL:
            for v in range(256):
                free(self.shortcuts[v].payload)
            free(self.shortcuts)
        free(self.rx_msgs)
        free(self.rx_iov)
        free(self.rx_bufs)
        free(self.rx_ctrl)
        free(self.rx_names)
        for q in range(2):
            free(self.tx_msgs[q])
            free(self.tx_iov[q])

    def fileno(self):
        return self.fd

    def recv_batch(self):
        """Everything readable now (at most `batch` packets):
        (payload, src, dst, ttl, ifindex, rx_time), rx_time the kernel's receive time on the
        time.monotonic() clock (SO_TIMESTAMPNS), or the time of this call without one."""
        cdef int i, n, ihl, total, end, ttl, ifindex
        cdef unsigned int plen
        cdef unsigned char *buf
        cdef msghdr *h
        cdef cmsghdr *c
        cdef sockaddr_in6 *sa6
        cdef timespec mono, real, stamp
        cdef double offset, rx_time, now
        cdef bint stamped, have_dst
        cdef unsigned char dst6[16]
        cdef const unsigned char *pl
        cdef const unsigned char *psrc
        cdef const unsigned char *pdst
        cdef int pl_len, alen
        cdef Shortcut *sc
        cdef list out = []
        for i in range(self.batch):
            self.rx_iov[i].iov_base = self.rx_bufs + i * RX_BUF
            self.rx_iov[i].iov_len = RX_BUF
            h = &self.rx_msgs[i].msg_hdr
            h.msg_name = self.rx_names + i * NAME_SIZE
            h.msg_namelen = NAME_SIZE
            h.msg_iov = &self.rx_iov[i]
            h.msg_iovlen = 1
            h.msg_control = self.rx_ctrl + i * RX_CTRL
            h.msg_controllen = RX_CTRL
            h.msg_flags = 0
        # Non-blocking and short: keep the GIL. Releasing it here hands it to a busy thread (the
        # netlink thread adding VIPs) for a whole switch interval per batch (GIL convoy), and
        # the backlog of adverts turns into false takeovers.
        n = recvmmsg(self.fd, self.rx_msgs, self.batch, MSG_DONTWAIT, NULL)
        if n < 0:
            if errno != EAGAIN and errno != EINTR:
                self.rx_errors += 1
                self.last_errno = errno
            return out
        clock_gettime(CLOCK_MONOTONIC, &mono)
        clock_gettime(CLOCK_REALTIME, &real)
        now = mono.tv_sec + mono.tv_nsec * 1e-9
        offset = (real.tv_sec - mono.tv_sec) + (real.tv_nsec - mono.tv_nsec) * 1e-9
        for i in range(n):
            buf = self.rx_bufs + i * RX_BUF
            plen = self.rx_msgs[i].msg_len
            if plen > RX_BUF:
                plen = RX_BUF
            h = &self.rx_msgs[i].msg_hdr
            ttl = -1
            ifindex = self.ifindex
            have_dst = False
            stamped = False
            c = CMSG_FIRSTHDR(h)
            while c != NULL:
                if c.cmsg_level == IPPROTO_IPV6:
                    if c.cmsg_type == IPV6_PKTINFO:
                        memcpy(dst6, CMSG_DATA(c), 16)
                        have_dst = True
                        memcpy(&ifindex, CMSG_DATA(c) + 16, sizeof(int))
                    elif c.cmsg_type == IPV6_HOPLIMIT:
                        memcpy(&ttl, CMSG_DATA(c), sizeof(int))
                elif c.cmsg_level == SOL_SOCKET_ and c.cmsg_type == SCM_TIMESTAMPNS_:
                    memcpy(&stamp, CMSG_DATA(c), sizeof(timespec))
                    stamped = True
                c = CMSG_NXTHDR(h, c)
            rx_time = (stamp.tv_sec + stamp.tv_nsec * 1e-9 - offset) if stamped else now
            if rx_time > now:
                rx_time = now
            self.last_rx = rx_time
            if self.family == AF_INET:
                if plen < 20 or (buf[0] >> 4) != 4:
                    self.rx_errors += 1
                    continue
                ihl = (buf[0] & 0x0F) * 4
                if ihl < 20 or <unsigned int>ihl > plen:
                    self.rx_errors += 1
                    continue
                total = (buf[2] << 8) | buf[3]
                end = <int>plen
                if total >= ihl and total < end:
                    end = total
                pl = buf + ihl
                pl_len = end - ihl
                psrc = buf + 12
                pdst = buf + 16
                alen = 4
                ttl = buf[8]
                ifindex = self.ifindex
            else:
                sa6 = <sockaddr_in6 *>h.msg_name
                pl = buf
                pl_len = <int>plen
                psrc = sa6.sin6_addr.s6_addr
                pdst = dst6
                alen = 16
            self.rx_packets += 1
            if pl_len >= 2 and self.shortcuts[pl[1]].armed:
                sc = &self.shortcuts[pl[1]]
                if (pl_len == sc.plen and ttl == sc.ttl and alen == sc.alen
                        and (alen == 4 or have_dst)
                        and memcmp(pl, sc.payload, pl_len) == 0 and memcmp(psrc, sc.src, alen) == 0
                        and memcmp(pdst, sc.dst, alen) == 0):
                    sc.count += 1
                    sc.last_rx = rx_time
                    self.rx_absorbed += 1
                    continue
                sc.armed = False      # anything else goes to the core, in order
                sc.tripped = True
            out.append((PyBytes_FromStringAndSize(<char *>pl, pl_len),
                        PyBytes_FromStringAndSize(<char *>psrc, alen),
                        PyBytes_FromStringAndSize(<char *>pdst, alen) if (alen == 4 or have_dst) else b"",
                        ttl, ifindex, rx_time))
        return out

    def arm_shortcut(self, int vrid, bytes payload, bytes src, bytes dst, int ttl, double hold,
                     double last_rx):
        """Steady state of a backup: from now on, packets for `vrid` identical to this one
        (payload, source, destination, TTL) are absorbed here, only counted with their
        receive time; `hold` (the master-down interval) after the last one, `expired()`
        reports the VRID. Any other packet for the VRID disarms it and is returned."""
        cdef Shortcut *sc
        if not 0 <= vrid <= 255:
            raise ValueError(f"vrid {vrid} not in 0..255")
        if len(src) != len(dst) or len(src) not in (4, 16):
            raise ValueError("src and dst must both be 4 or 16 bytes")
        sc = &self.shortcuts[vrid]
        free(sc.payload)
        sc.payload = <unsigned char *>malloc(max(len(payload), 1))
        if sc.payload == NULL:
            raise MemoryError()
        memcpy(sc.payload, <char *>payload, len(payload))
        sc.plen = len(payload)
        sc.alen = len(src)
        memcpy(sc.src, <char *>src, sc.alen)
        memcpy(sc.dst, <char *>dst, sc.alen)
        sc.ttl = ttl
        sc.hold = hold
        sc.last_rx = last_rx
        sc.count = 0
        sc.tripped = False
        sc.armed = True

    def disarm_shortcut(self, int vrid):
        """Stop absorbing for `vrid`; returns (packets absorbed, last receive time)."""
        cdef Shortcut *sc = &self.shortcuts[vrid & 0xFF]
        out = (sc.count, sc.last_rx)
        sc.armed = False
        sc.tripped = False
        sc.count = 0
        return out

    def shortcut_count(self, int vrid):
        """Packets absorbed for `vrid` since it was armed."""
        return self.shortcuts[vrid & 0xFF].count

    def next_expiry(self):
        """Earliest last receive time + hold over the armed VRIDs (math.inf when none)."""
        cdef double best = INFINITY
        cdef double t
        cdef int v
        for v in range(256):
            if self.shortcuts[v].armed:
                t = self.shortcuts[v].last_rx + self.shortcuts[v].hold
                if t < best:
                    best = t
        return best

    def expired(self, double now):
        """The armed VRIDs whose hold has run out at `now` (they stay armed)."""
        cdef list out = []
        cdef int v
        for v in range(256):
            if self.shortcuts[v].armed and self.shortcuts[v].last_rx + self.shortcuts[v].hold <= now:
                out.append(v)
        return out

    cdef int _queue(self, TxPacket *p) except -1:
        cdef int q = 1 if p.dontroute else 0
        cdef unsigned int k
        cdef unsigned int cap
        cdef mmsghdr *nm
        cdef iovec *ni
        if self.tx_n[q] == self.tx_cap[q]:
            cap = self.tx_cap[q] * 2 if self.tx_cap[q] else 64
            nm = <mmsghdr *>realloc(self.tx_msgs[q], cap * sizeof(mmsghdr))
            if nm == NULL:
                raise MemoryError()
            self.tx_msgs[q] = nm
            ni = <iovec *>realloc(self.tx_iov[q], cap * sizeof(iovec))
            if ni == NULL:
                raise MemoryError()
            # the iovec array moved: re-point the queued headers at it
            for k in range(self.tx_n[q]):
                nm[k].msg_hdr.msg_iov = &ni[k]
            self.tx_iov[q] = ni
            self.tx_cap[q] = cap
        k = self.tx_n[q]
        self.tx_iov[q][k].iov_base = p.data
        self.tx_iov[q][k].iov_len = p.len
        memset(&self.tx_msgs[q][k], 0, sizeof(mmsghdr))
        self.tx_msgs[q][k].msg_hdr.msg_name = p.name
        self.tx_msgs[q][k].msg_hdr.msg_namelen = p.namelen
        self.tx_msgs[q][k].msg_hdr.msg_iov = &self.tx_iov[q][k]
        self.tx_msgs[q][k].msg_hdr.msg_iovlen = 1
        if p.ctrllen:
            self.tx_msgs[q][k].msg_hdr.msg_control = p.ctrl
            self.tx_msgs[q][k].msg_hdr.msg_controllen = p.ctrllen
        self.tx_n[q] = k + 1
        return 0

    cdef int _flush(self) noexcept:
        """Send both queues (one sendmmsg each, resumed after a failing message)."""
        cdef int q, r, flags
        cdef unsigned int i, n
        cdef int sent = 0
        cdef int waits = 0
        cdef pollfd pfd
        for q in range(2):
            n = self.tx_n[q]
            flags = (MSG_DONTROUTE if q == 1 else 0) | MSG_DONTWAIT
            i = 0
            while i < n:
                r = sendmmsg(self.fd, self.tx_msgs[q] + i, n - i, flags)    # non-blocking: GIL kept
                if r < 0:
                    if errno == EINTR:
                        continue
                    if (errno == EAGAIN or errno == ENOBUFS) and waits < TX_FULL_WAITS:
                        # socket buffer full (a burst of many instances): let it drain briefly
                        waits += 1
                        pfd.fd = self.fd
                        pfd.events = POLLOUT
                        with nogil:
                            poll(&pfd, 1, TX_FULL_WAIT_MS)
                        continue
                    self.tx_errors += 1
                    self.last_errno = errno
                    i += 1          # skip the message that failed, send the rest
                else:
                    i += <unsigned int>r
                    sent += r
            self.tx_n[q] = 0
        self.tx_packets += <uint64_t>sent
        return sent


cdef struct Slot:
    bint used
    int sock            # index into AdvertSender._socks
    TxPacket *pkts
    int npkts
    uint16_t ip_id
    double interval
    double due
    bint running
    int heap_pos        # -1 when not in the heap
    uint64_t sent
    double last_fire    # when fire() last sent it (< 0: not since start)
    bint sealed         # AdvertSender._seals holds a per-packet hook for it (IPsec AH)


cdef class AdvertSender:
    """Periodic and one-off advert sending from prebuilt packets, batched per socket."""

    cdef readonly double slack
    cdef list _socks            # AdvertSocket objects; Slot.sock indexes here
    cdef dict _seals            # slot -> seal hook (set_adverts), for slots with Slot.sealed
    cdef Slot *slots
    cdef int nslots
    cdef int *heap              # slot ids ordered by due
    cdef int heap_n
    cdef uint64_t gap_counts[N_GAP_BOUNDS + 1]
    cdef double gap_sum

    def __cinit__(self, double slack=0.0005):
        self.slack = slack
        self._socks = []
        self._seals = {}
        self.slots = NULL
        self.nslots = 0
        self.heap = NULL
        self.heap_n = 0
        memset(self.gap_counts, 0, sizeof(self.gap_counts))
        self.gap_sum = 0.0

    def __dealloc__(self):
        cdef int i
        if self.slots != NULL:
            for i in range(self.nslots):
                self._free_packets(&self.slots[i])
        free(self.slots)
        free(self.heap)

    cdef void _free_packets(self, Slot *s) noexcept:
        cdef int j
        if s.pkts != NULL:
            for j in range(s.npkts):
                free(s.pkts[j].data)
            free(s.pkts)
        s.pkts = NULL
        s.npkts = 0

    cdef Slot *_slot(self, int slot, bint create) except? NULL:
        cdef int n
        cdef Slot *ns
        cdef int *nh
        if slot < 0:
            raise ValueError(f"slot must be >= 0, not {slot}")
        if slot >= self.nslots:
            if not create:
                return NULL
            n = max(slot + 1, self.nslots * 2, 16)
            ns = <Slot *>realloc(self.slots, n * sizeof(Slot))
            if ns == NULL:
                raise MemoryError()
            memset(ns + self.nslots, 0, (n - self.nslots) * sizeof(Slot))
            nh = <int *>realloc(self.heap, n * sizeof(int))
            if nh == NULL:
                raise MemoryError()
            self.slots = ns
            self.heap = nh
            self.nslots = n
        if not self.slots[slot].used:
            if not create:
                return NULL
            memset(&self.slots[slot], 0, sizeof(Slot))
            self.slots[slot].used = True
            self.slots[slot].heap_pos = -1
            self.slots[slot].due = INFINITY
        return &self.slots[slot]

    def set_adverts(self, int slot, AdvertSocket sock, bytes src, packets, int hoplimit=255, seal=None):
        """Prebuild the packets of `slot`: one (destination, VRRP payload) per destination.
        `seal` (IPv4 only): per-packet rewrite after the IP ID is set (see the pure twin)."""
        cdef Slot *s = self._slot(slot, True)
        cdef list items = list(packets)
        cdef TxPacket *pk = <TxPacket *>calloc(max(len(items), 1), sizeof(TxPacket))
        cdef TxPacket *p
        cdef sockaddr_in *sa4
        cdef sockaddr_in6 *sa6
        cdef bytes data, ctrl, dst, payload
        cdef int j
        if pk == NULL:
            raise MemoryError()
        try:
            for j in range(len(items)):
                dst, payload = items[j]
                p = &pk[j]
                if sock.family == AF_INET:
                    if len(dst) != 4 or len(src) != 4:
                        raise ValueError("IPv4 socket needs 4-byte src and dst")
                    data = ipv4_header(src, dst, len(payload), hoplimit) + payload
                    sa4 = <sockaddr_in *>p.name
                    sa4.sin_family = AF_INET
                    memcpy(&sa4.sin_addr, <char *>dst, 4)
                    p.namelen = sizeof(sockaddr_in)
                else:
                    if len(dst) != 16 or len(src) != 16:
                        raise ValueError("IPv6 socket needs 16-byte src and dst")
                    data = payload
                    sa6 = <sockaddr_in6 *>p.name
                    sa6.sin6_family = AF_INET6
                    memcpy(sa6.sin6_addr.s6_addr, <char *>dst, 16)
                    sa6.sin6_scope_id = <uint32_t>sock.ifindex
                    p.namelen = sizeof(sockaddr_in6)
                    ctrl = _ipv6_control(src, sock.ifindex, hoplimit)
                    memcpy(p.ctrl, <char *>ctrl, len(ctrl))
                    p.ctrllen = len(ctrl)
                p.dontroute = _is_multicast(<const unsigned char *>dst, len(dst))
                p.len = len(data)
                p.data = <unsigned char *>malloc(p.len)
                if p.data == NULL:
                    raise MemoryError()
                memcpy(p.data, <char *>data, p.len)
        except BaseException:
            for j in range(len(items)):
                free(pk[j].data)
            free(pk)
            raise
        self._free_packets(s)
        s.pkts = pk
        s.npkts = len(items)
        s.sock = self._sock_index(sock)
        s.sealed = seal is not None and sock.family == AF_INET
        if s.sealed:
            self._seals[slot] = seal
        else:
            self._seals.pop(slot, None)

    cdef int _sock_index(self, AdvertSocket sock) except -1:
        cdef int i
        for i in range(len(self._socks)):
            if self._socks[i] is sock:
                return i
        self._socks.append(sock)
        return len(self._socks) - 1

    def start(self, int slot, double interval, double first_due):
        """Send `slot`'s adverts every `interval` seconds, the first at `first_due`."""
        cdef Slot *s = self._slot(slot, False)
        if s == NULL:
            raise KeyError(slot)
        if interval <= 0:
            raise ValueError("interval must be > 0")
        s.interval = interval
        s.due = first_due
        s.running = True
        s.last_fire = -1.0
        if s.heap_pos < 0:
            s.heap_pos = self.heap_n
            self.heap[self.heap_n] = slot
            self.heap_n += 1
        self._sift_up(s.heap_pos)
        self._sift_down(self.slots[slot].heap_pos)

    def stop(self, int slot):
        cdef Slot *s = self._slot(slot, False)
        if s != NULL and s.running:
            s.running = False
            s.due = INFINITY
            self._heap_remove(slot)

    def remove(self, int slot):
        cdef Slot *s = self._slot(slot, False)
        if s != NULL:
            self.stop(slot)
            self._free_packets(s)
            s.used = False
            s.sealed = False
            self._seals.pop(slot, None)

    def is_running(self, int slot):
        cdef Slot *s = self._slot(slot, False)
        return s != NULL and s.running

    def sent(self, int slot):
        """Adverts sent for `slot` (each counts once, whatever the number of destinations)."""
        cdef Slot *s = self._slot(slot, False)
        return 0 if s == NULL else s.sent

    def next_due(self):
        """Ideal time of the earliest scheduled advert (math.inf when none)."""
        return self.slots[self.heap[0]].due if self.heap_n else INFINITY

    def send_now(self, int slot):
        """Send `slot`'s adverts once, now, outside the schedule. Returns packets sent."""
        cdef Slot *s = self._slot(slot, False)
        if s == NULL:
            raise KeyError(slot)
        s.sent += 1
        self._queue_slot(s)
        return (<AdvertSocket>self._socks[s.sock])._flush()

    def fire(self, double now):
        """Send every advert due by `now` (+ slack) and schedule the next ones. Returns packets sent."""
        cdef double limit = now + self.slack
        cdef double nxt
        cdef Slot *s
        cdef int total = 0
        cdef bint queued = False
        while self.heap_n and self.slots[self.heap[0]].due <= limit:
            s = &self.slots[self.heap[0]]
            self._queue_slot(s)
            queued = True
            s.sent += 1
            if s.last_fire >= 0:
                self._count_gap((now - s.last_fire) / s.interval)
            s.last_fire = now
            nxt = s.due + s.interval
            if nxt <= now:   # stalled for a whole interval: stay on the ideal grid
                nxt += floor((now - nxt) / s.interval + 1) * s.interval
            s.due = nxt
            self._sift_down(0)
        if queued:
            for sock in self._socks:
                total += (<AdvertSocket>sock)._flush()
        return total

    cdef inline void _count_gap(self, double ratio) noexcept:
        cdef int i = 0
        while i < N_GAP_BOUNDS and ratio > _gap_bounds[i]:
            i += 1
        self.gap_counts[i] += 1
        self.gap_sum += ratio

    def gap_histogram(self):
        """Gaps between consecutive scheduled adverts of each instance, in multiples of its
        interval, measured at the `now` given to fire(): (GAP_BOUNDS, cumulative count per
        bound, sum of the ratios, count). Restarting a schedule starts a new series."""
        cdef list cumulative = []
        cdef uint64_t acc = 0
        cdef int i
        for i in range(N_GAP_BOUNDS):
            acc += self.gap_counts[i]
            cumulative.append(acc)
        return GAP_BOUNDS, cumulative, self.gap_sum, acc + self.gap_counts[N_GAP_BOUNDS]

    cdef int _queue_slot(self, Slot *s) except -1:
        cdef AdvertSocket sock = <AdvertSocket>self._socks[s.sock]
        cdef int j
        cdef bint v4 = sock.family == AF_INET
        cdef bytes sealed
        for j in range(s.npkts):
            if v4:
                s.ip_id = <uint16_t>(s.ip_id + 1)
                if s.ip_id == 0:
                    s.ip_id = 1
                s.pkts[j].data[4] = <unsigned char>(s.ip_id >> 8)
                s.pkts[j].data[5] = <unsigned char>(s.ip_id & 0xFF)
                if s.sealed:
                    sealed = self._seals[<int>(s - self.slots)](
                        PyBytes_FromStringAndSize(<char *>s.pkts[j].data, s.pkts[j].len))
                    if len(sealed) != <Py_ssize_t>s.pkts[j].len:
                        raise ValueError("seal must keep the packet length")
                    memcpy(s.pkts[j].data, <char *>sealed, s.pkts[j].len)
            sock._queue(&s.pkts[j])
        return 0

    # -- indexed binary min-heap on (Slot.due, slot) -----------------------------------------

    cdef inline bint _before(self, int a, int b) noexcept:
        # Equal times go in slot order: an instance keeps its place in every batch, so a
        # batch's own duration does not turn into gap jitter between its adverts.
        cdef double da = self.slots[a].due
        cdef double db = self.slots[b].due
        return da < db or (da == db and a < b)

    cdef inline void _swap(self, int i, int j) noexcept:
        cdef int a = self.heap[i]
        cdef int b = self.heap[j]
        self.heap[i] = b
        self.heap[j] = a
        self.slots[b].heap_pos = i
        self.slots[a].heap_pos = j

    cdef void _sift_up(self, int i) noexcept:
        cdef int parent
        while i > 0:
            parent = (i - 1) >> 1
            if self._before(self.heap[i], self.heap[parent]):
                self._swap(i, parent)
                i = parent
            else:
                break

    cdef void _sift_down(self, int i) noexcept:
        cdef int l, r, m
        while True:
            l = 2 * i + 1
            r = l + 1
            m = i
            if l < self.heap_n and self._before(self.heap[l], self.heap[m]):
                m = l
            if r < self.heap_n and self._before(self.heap[r], self.heap[m]):
                m = r
            if m == i:
                return
            self._swap(i, m)
            i = m

    cdef void _heap_remove(self, int slot) noexcept:
        cdef int i = self.slots[slot].heap_pos
        if i < 0:
            return
        cdef int moved
        self.heap_n -= 1
        if i != self.heap_n:
            self._swap(i, self.heap_n)
            moved = self.heap[i]
            self._sift_up(i)
            self._sift_down(self.slots[moved].heap_pos)
        self.slots[slot].heap_pos = -1


def _ipv6_control(bytes src, int ifindex, int hoplimit):
    """IPV6_PKTINFO (source, interface) + IPV6_HOPLIMIT control messages, as raw bytes."""
    pktinfo = src + _struct.pack("=i", ifindex)
    hop = _struct.pack("=i", hoplimit)
    out = b""
    for kind, value in ((IPV6_PKTINFO, pktinfo), (IPV6_HOPLIMIT, hop)):
        length = _socket.CMSG_LEN(len(value))
        space = _socket.CMSG_SPACE(len(value))
        out += _struct.pack("@Nii", length, IPPROTO_IPV6, kind) + value + b"\0" * (space - length)
    return out





cdef extern from "<sys/timerfd.h>" nogil:
    struct itimerspec:
        timespec it_interval
        timespec it_value
    int timerfd_create(int clockid, int flags)
    int timerfd_settime(int fd, int flags, const itimerspec *new_value, itimerspec *old_value)
    int TFD_NONBLOCK
    int TFD_CLOEXEC
    int TFD_TIMER_ABSTIME

cdef extern from "<unistd.h>" nogil:
    ssize_t read(int fd, void *buf, size_t count)
    int close(int fd)


cdef class DeadlineTimer:
    """A CLOCK_MONOTONIC timerfd armed at an absolute time (time.monotonic() seconds).

    The event loop's own timers round to whole milliseconds; this one wakes the loop (through
    `add_reader` on `fileno()`) within microseconds of the deadline.
    """

    cdef int fd

    def __cinit__(self):
        self.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)
        if self.fd < 0:
            raise OSError(errno, "timerfd_create failed")

    def __dealloc__(self):
        if self.fd >= 0:
            close(self.fd)

    def fileno(self):
        return self.fd

    def arm(self, double when):
        """Fire at monotonic time `when` (at once if it has passed); inf disarms."""
        cdef itimerspec spec
        memset(&spec, 0, sizeof(spec))
        if when != INFINITY:
            if when <= 0:
                when = 1e-9
            spec.it_value.tv_sec = <long>when
            spec.it_value.tv_nsec = <long>((when - <double>spec.it_value.tv_sec) * 1e9)
            if spec.it_value.tv_sec == 0 and spec.it_value.tv_nsec == 0:
                spec.it_value.tv_nsec = 1
        if timerfd_settime(self.fd, TFD_TIMER_ABSTIME, &spec, NULL) < 0:
            raise OSError(errno, "timerfd_settime failed")

    def ack(self):
        """Consume the expiry so the fd stops being readable. Returns the expirations read."""
        cdef uint64_t n = 0
        if read(self.fd, &n, 8) != 8:
            return 0
        return n

    def close(self):
        if self.fd >= 0:
            close(self.fd)
            self.fd = -1
__all__ = ["GAP_BOUNDS", "IMPLEMENTATION", "IPPROTO_VRRP", "AdvertSender", "AdvertSocket", "DeadlineTimer", "ipv4_header", "is_multicast"]
