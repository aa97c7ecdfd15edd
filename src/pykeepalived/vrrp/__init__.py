"""The VRRP child: a thin shell around `core.engine.VrrpEngine`.

process.py   the process: loop, signals, status channel (`run_vrrp`, the supervisor's entry)
runtime.py   sockets, demultiplexing, the one timer; feeds the engine (`VrrpRuntime`)
execute.py   the effects: one `match` over the actions (`Executor`)
reload.py    applies what `core.engine.plan_reload` says a reload changes
services.py  the IO services the actions name: notify, routes, firewall, trackers
instance.py  the record of one vrrp_instance (its router and its sockets, prebuilt adverts)
"""
