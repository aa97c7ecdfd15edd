"""The parent process (keepalived's main process): `process.run(opts)`.

* `process.py`: start-up (config, namespace, pid files, daemonize), the `Supervisor` (signals
  taken with sigtimedwait, reload, stop) and the startup/shutdown scripts;
* `children.py`: forking, naming, reporting and respawning the VRRP and checker children;
* `reload_timer.py`: `reload_time_file`.

The children never import this package: they are named by entry point (`children.ENTRY`).
"""
