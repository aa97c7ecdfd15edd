"""Sans-IO state machines: no sockets, no clocks, no threads (tests/core/test_purity.py).

VRRP (this engineer's part):
  params.py      RouterParams (resolved per-instance parameters; `RouterParams.from_model`), VipSpec
  events.py      what the IO layer feeds in (Startup, AdvertReceived, AdvertRejected, ...)
  actions.py     what comes out (StartAdvertising, SendAdvert, AddVips, SendGratuitous, Notify, ...)
  timing.py      skew / master-down arithmetic in keepalived's integer microseconds
  vrrp.py        VirtualRouter: `handle(event, now) -> list[Action]`, `deadline()`
  track.py       trackers -> PriorityChanged / FaultChanged (ScriptState rise/fall, Tracking)
  sync_group.py  SyncGroup: members move together
LVS: lvs.py (desired IPVS table).
"""
