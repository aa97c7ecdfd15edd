"""The checker child (keepalived's healthchecker process): `process.run_checkers(config, opts)`.

* `process.py`: the loop, signals, status channel and reload (`child.ChildReload`: the file is
  parsed off the loop, the checks keep running meanwhile);
* `lvs_runtime.py`: health -> `core.lvs` -> the backend (`lvs/`), FIFO lines and quorum scripts;
* `ha_suspend.py`: a virtual server's checkers paused while its address is not on this host.
"""
