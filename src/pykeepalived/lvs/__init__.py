"""LVS backends: the kernel side of virtual servers.

* `core.lvs` decides (desired table from config + health, quorum, sorry server, diff);
  this package applies: `backend.Backend` is the interface (`apply(ops)`, `read(keys)`,
  `requests`), `ipvs.IpvsBackend` (kernel IPVS over generic netlink; also lvs_sync_daemon) and
  `nftables.NftBackend` (DNAT with numgen/jhash maps, for kernels without ip_vs;
  `nftables.check_config` lists what it cannot do, with file:line).
* `backend.BackendThread` runs one backend on its own thread (optionally inside a network
  namespace); `backend.choose` implements `--lvs-backend auto|ipvs|nftables`.
* the checker child that drives them is `pykeepalived.checker` (checkers -> LvsState -> backend,
  with keepalived's notify FIFO lines and quorum scripts).
"""
