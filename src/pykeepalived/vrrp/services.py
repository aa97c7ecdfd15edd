"""The IO services around the VRRP engine: notify scripts and FIFOs, trackers, routes and
rules, the no_accept firewall, static addresses. They decide nothing: `core/engine.py`
decides (sync groups, tracking, start-up order, interface delays) and the router's actions
say what to do (InstallRoutes, AddNoAcceptRules, Notify, ...).

    services = Services(config, netlink, interfaces, on_tracker, loop, pending, previous)
    services.routes_apply(name, routes, rules, add=True)    # InstallRoutes / RemoveRoutes
    services.firewall.add(addresses)                       # AddNoAcceptRules
    services.notifier.notify(note)                         # Notify
    services.start(now_vmacs)                              # trackers, VMAC rules, static routes
    services.retire()                                      # a reload: the next one takes over
    await services.stop(config, vmacs)                     # at exit: tear everything down

On a reload new Services take over from the previous one (`previous`): the running
scripts' runner, the notifier's FIFOs, the firewall's tables and the script trackers' states
go on, so that a reload neither flaps instances nor duplicates rules.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Callable, Coroutine, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from pykeepalived.config.model import Config, Route, Rule
from pykeepalived.io.firewall import Firewall
from pykeepalived.io.notify import Notifier, ScriptRunner
from pykeepalived.io.routes import RouteManager
from pykeepalived.io.trackers import Trackers

if TYPE_CHECKING:
    from pykeepalived.io.netlink import Interface, Netlink

log = logging.getLogger(__name__)

OnTracker = Callable[[str, str, "bool | int | None"], None]


class Services:
    def __init__(self, config: Config, netlink: Netlink, interfaces: dict[str, Interface], on_tracker: OnTracker,
                 loop: asyncio.AbstractEventLoop, pending: set[asyncio.Future[Any]],
                 previous: Services | None = None) -> None:
        self.config = config
        self.loop = loop
        self.pending = pending                    # the runtime's tasks, awaited at shutdown
        self.reloaded = previous is not None
        if previous is None:
            self.runner = ScriptRunner(config.global_defs)
            self.firewall = Firewall(config.global_defs)
        else:
            self.runner = previous.runner         # it still watches the running scripts
            self.runner.configure(config.global_defs)
            self.firewall = previous.firewall
        self.notifier = Notifier(config, self.runner)
        if previous is not None:
            self.notifier.adopt(previous.notifier)
        self.trackers = Trackers(config, self.runner, on_tracker)
        if previous is not None:
            old = {st.spec.name: st.state for st in previous.trackers.scripts}
            for st in self.trackers.scripts:
                state = old.get(st.spec.name)
                if state is not None and (state.rise, state.fall) == (st.state.rise, st.state.fall):
                    st.state = state
        self.routes = RouteManager(netlink, interfaces)
        self._route_work: asyncio.Future[None] | None = None    # route changes run one after another

    def routes_apply(self, name: str, routes: Sequence[Route], rules: Sequence[Rule], *, add: bool) -> None:
        """InstallRoutes / RemoveRoutes: on the netlink thread, in the order asked for."""
        before = self._route_work

        async def run() -> None:
            if before is not None and not before.done():
                await asyncio.wait([before])
            await self.routes.apply(name, routes, rules, add=add)

        self._route_work = self.spawn(run())

    def start(self, vmacs: Iterable[tuple[str, str, int]]) -> None:
        """After start-up: trackers run; at the first start also the VMAC firewall rules and
        the static addresses, routes and rules."""
        self.trackers.start()
        if not self.reloaded:
            self.firewall.add_vmacs(vmacs)
            self.spawn(self.routes.start_static(self.config))

    def reinstate_static(self, ifname: str) -> None:
        self.spawn(self.routes.reinstate_static(self.config, ifname))

    def on_addr_deleted(self, ifindex: int, address: str, interfaces: dict[str, Interface]) -> None:
        """A static_ipaddress deleted by someone else is added again (keepalived does)."""
        default = self.config.global_defs.default_interface
        for ip in self.config.static_ipaddress:
            iface = interfaces.get(ip.dev or default)
            if not ip.no_track and iface is not None and iface.index == ifindex and str(ip.address.ip) == \
                    str(ipaddress.ip_address(address)):
                self.spawn(self.routes.add_static_address(ip, default))

    def spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = self.loop.create_task(coro)
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)
        return task

    def retire(self) -> None:
        """A reload: the trackers stop; the kernel state stays for the next Services."""
        self.trackers.stop()

    async def stop(self, remove_vmacs: Callable[[], Coroutine[Any, Any, Any]]) -> None:
        """At exit: tear everything down."""
        self.trackers.stop()
        await self.notifier.stop()
        await self.routes.stop_static(self.config)
        await self.firewall.close()
        await remove_vmacs()


__all__ = ["Services"]
