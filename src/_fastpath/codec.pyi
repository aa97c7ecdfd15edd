# Stub of the compiled twin; the contract is codec_py's (constants and frame builders are re-exported).
from collections.abc import Sequence
from typing import Any

from .checksum_py import Buffer
from .codec_py import (
    AF_INET as AF_INET,
)
from .codec_py import (
    AF_INET6 as AF_INET6,
)
from .codec_py import (
    ALL_NODES as ALL_NODES,
)
from .codec_py import (
    ALL_NODES_MAC as ALL_NODES_MAC,
)
from .codec_py import (
    AUTH_AH as AUTH_AH,
)
from .codec_py import (
    AUTH_DATA_LEN as AUTH_DATA_LEN,
)
from .codec_py import (
    AUTH_NONE as AUTH_NONE,
)
from .codec_py import (
    AUTH_PASS as AUTH_PASS,
)
from .codec_py import (
    ERR_ADDR_COUNT as ERR_ADDR_COUNT,
)
from .codec_py import (
    ERR_AUTH as ERR_AUTH,
)
from .codec_py import (
    ERR_CHECKSUM as ERR_CHECKSUM,
)
from .codec_py import (
    ERR_LENGTH as ERR_LENGTH,
)
from .codec_py import (
    ERR_TYPE as ERR_TYPE,
)
from .codec_py import (
    ERR_VERSION as ERR_VERSION,
)
from .codec_py import (
    ETH_BROADCAST as ETH_BROADCAST,
)
from .codec_py import (
    ETH_P_ARP as ETH_P_ARP,
)
from .codec_py import (
    ETH_P_IP as ETH_P_IP,
)
from .codec_py import (
    ETH_P_IPV6 as ETH_P_IPV6,
)
from .codec_py import (
    GARP_LEN as GARP_LEN,
)
from .codec_py import (
    HEADER_LEN as HEADER_LEN,
)
from .codec_py import (
    NA_FLAG_OVERRIDE as NA_FLAG_OVERRIDE,
)
from .codec_py import (
    NA_FLAG_ROUTER as NA_FLAG_ROUTER,
)
from .codec_py import (
    NA_LEN as NA_LEN,
)
from .codec_py import (
    ND_NEIGHBOR_ADVERT as ND_NEIGHBOR_ADVERT,
)
from .codec_py import (
    OK as OK,
)
from .codec_py import (
    REASON_NAMES as REASON_NAMES,
)
from .codec_py import (
    VRRP_TYPE_ADVERTISEMENT as VRRP_TYPE_ADVERTISEMENT,
)
from .codec_py import (
    build_garp as build_garp,
)
from .codec_py import (
    build_unsolicited_na as build_unsolicited_na,
)

class Advert:
    @property
    def version(self) -> int: ...
    @property
    def type(self) -> int: ...
    @property
    def vrid(self) -> int: ...
    @property
    def priority(self) -> int: ...
    @property
    def count(self) -> int: ...
    @property
    def auth_type(self) -> int: ...
    @property
    def adver_int(self) -> int: ...
    @property
    def checksum(self) -> int: ...
    @property
    def addresses(self) -> tuple[bytes, ...]: ...
    @property
    def auth_data(self) -> bytes: ...
    @property
    def interval_seconds(self) -> float: ...
    def __init__(self, version: int, type: int, vrid: int, priority: int, count: int, auth_type: int,
                 adver_int: int, checksum: int, addresses: tuple[bytes, ...], auth_data: bytes) -> None: ...
    def astuple(self) -> tuple[Any, ...]: ...

def decode_advert(buf: Buffer, family: int, src: Buffer = b"", dst: Buffer = b"",
                  v3_checksum_as_v2: bool = False) -> tuple[Advert | None, int]: ...
def encode_advert(version: int, vrid: int, priority: int, adver_int: int, addresses: Sequence[Buffer],
                  family: int, src: Buffer = b"", dst: Buffer = b"", auth_type: int = 0,
                  auth_data: Buffer = b"", v3_checksum_as_v2: bool = False) -> bytes: ...
def encode(advert: Advert, family: int, src: Buffer = b"", dst: Buffer = b"",
           v3_checksum_as_v2: bool = False) -> bytes: ...
def patch_priority(buf: bytearray | memoryview, priority: int, offset: int = 0) -> None: ...
def patch_checksum(buf: bytearray | memoryview, length: int, version: int, src: Buffer = b"",
                   dst: Buffer = b"", v3_checksum_as_v2: bool = False, offset: int = 0) -> int: ...
