"""The VRRP child's reload (SIGHUP): `core.engine.plan_reload` says what changed, this applies it.

Instances whose configuration is unchanged keep running untouched (no advert gap, no VIP
churn); removed ones are deleted (priority 0 if master, VIPs removed, DELETED notified); new
ones start. An instance whose configuration changed keeps its state and takes the change in
place (VIPs, routes, priority, advert interval, ...), unless its identity changed (interface,
VRID, family, version, unicast/multicast, group, accept mode, sync group): then it is deleted
and started again under its new configuration.
"""

from __future__ import annotations

import ipaddress
import logging

from pykeepalived.config.model import Config, GlobalDefs, VrrpInstance
from pykeepalived.core.actions import Notify
from pykeepalived.core.engine import ReloadPlan, plan_reload
from pykeepalived.core.events import InstanceDeleted, Startup
from pykeepalived.core.params import RouterParams
from pykeepalived.core.vrrp import State
from pykeepalived.io import ipsec_ah
from pykeepalived.io.netlink import Interface
from pykeepalived.io.notify import fifo_line
from pykeepalived.vrrp.instance import Instance
from pykeepalived.vrrp.runtime import StartupError, VrrpRuntime

log = logging.getLogger(__name__)


def reload(rt: VrrpRuntime, config: Config) -> None:
    """Take a re-read configuration (on the loop; the reading was done off it, child.py)."""
    old, rt.config = rt.config, config
    plan = plan_reload(old, config)
    if plan.unchanged:
        log.info("Reload: VRRP configuration unchanged")
        write_states_to_fifos(rt)
        return
    rt.loop.create_task(apply(rt, plan, config))


async def apply(rt: VrrpRuntime, plan: ReloadPlan, new: Config) -> None:
    gd = new.global_defs
    ex = rt.executor
    rt.all_vips = {ip.address.ip for vi in new.vrrp_instances
                   for ip in vi.virtual_ipaddress + vi.virtual_ipaddress_excluded}
    vmac_changed, vmac_gone = rt.vmacs.retarget(new)
    rt.interfaces.update(await rt.netlink.interfaces())
    ex.iface_gen += 1
    rt.l2.configure(new, {s.name: s.base for s in rt.vmacs.specs.values()})
    for inst in rt.instances:          # the routers see every event from here on
        if inst.shortcut is not None:
            rt.flush_shortcut(inst)
    now = rt.clock()
    for inst in list(rt.instances):
        name = inst.model.name
        if name in plan.keep:
            continue
        vi = new.vrrp_instance(name)
        target = None if vi is None or name in vmac_changed else in_place(rt, inst, vi, gd)
        if vi is not None and target is not None:
            reconfigure(rt, inst, vi, *target, now)
            continue
        log.info("(%s) removing instance on reload", name)
        master = inst.router.state == State.MASTER
        rt.execute(inst, inst.router.handle(InstanceDeleted(), now), now)
        if not master and getattr(rt.opts, "release_vips", False):
            ex.release_unowned(inst)
        rt.forget(inst)
    created_before = set(rt.vmacs.created)
    if vmac_changed:        # removed instances' VMACs go (after their priority 0), new ones come
        await rt.vmacs.remove(vmac_gone)
        await rt.vmacs.create()
        rt.interfaces.update(await rt.netlink.interfaces())
        ex.iface_gen += 1
        rt.vmacs.adopt(rt.interfaces)
    previous = None
    if plan.rebuild and rt.services is not None and rt.engine is not None:
        previous = (rt.services, rt.engine)
        rt.services.retire()
        rt.services = rt.engine = ex.services = None
    kept = {inst.model.name: inst for inst in rt.instances}
    live: list[Instance] = []
    added: list[Instance] = []
    for vi in new.vrrp_instances:
        current = kept.get(vi.name)
        if current is None:
            try:
                current = rt.build_instance(vi, gd)
            except (StartupError, OSError) as exc:
                log.error("Reload: %s", exc)
                continue
            added.append(current)
        current.model = vi
        live.append(current)
    rt.instances = live
    now = rt.clock()
    if rt.services is None or rt.engine is None:
        # Startup is ignored by running routers, so only the new ones start; trackers
        # are evaluated afresh for everyone, as keepalived does on reload.
        services, engine = rt.new_engine(previous)
        services.notifier.start()
        rt.perform(engine.startup(now, services.trackers.files.initial(), rt.interface_up), now)
        services.start(rt.vmacs.pairs())
    else:
        for inst in added:
            rt.handle(inst, Startup(), now)
    assert rt.services is not None
    new_vmacs = [p for p in rt.vmacs.pairs() if p[0] not in created_before]
    if new_vmacs:
        rt.services.firewall.add_vmacs(new_vmacs)
    rt.arm()
    write_states_to_fifos(rt)


def write_states_to_fifos(rt: VrrpRuntime) -> None:
    """fifo_write_vrrp_states_on_reload: the FIFOs get every instance's and sync group's
    state again (a FIFO reader may have missed what happened around the reload)."""
    services, engine = rt.services, rt.engine
    if services is None or engine is None or not rt.config.global_defs.fifo_write_vrrp_states_on_reload:
        return
    shown = (State.MASTER, State.BACKUP, State.FAULT)
    notes = [Notify("INSTANCE", inst.router.name, inst.router.state.name, inst.router.effective_priority)
             for inst in rt.instances if inst.router.state in shown]
    notes += [Notify("GROUP", g.name, g.state.name, 0) for g in engine.groups.values() if g.state in shown]
    for note in notes:
        line = fifo_line(note)
        for fifo in services.notifier.fifos:
            fifo.write(line)


def in_place(rt: VrrpRuntime, inst: Instance, vi: VrrpInstance,
             gd: GlobalDefs) -> tuple[Interface, RouterParams] | None:
    """The new interface and parameters of a changed instance if it can take the change in
    place; None if it must be deleted and added again."""
    try:
        iface, params = rt.resolve(vi, gd)
    except StartupError:
        return None
    a, b = inst.params, params
    same = (iface.index == inst.iface.index and vi.sync_group == inst.model.sync_group
            and (a.vrid, a.family, a.version, a.is_unicast, a.group, a.accept, a.auth_type)
            == (b.vrid, b.family, b.version, b.is_unicast, b.group, b.accept, b.auth_type))
    return (iface, params) if same else None


def reconfigure(rt: VrrpRuntime, inst: Instance, vi: VrrpInstance, iface: Interface, params: RouterParams,
                now: float) -> None:
    """Apply a changed vrrp_instance to its running router: no state change, no advert gap."""
    inst.model, inst.iface = vi, iface
    assert params.source_address is not None
    inst.src = ipaddress.ip_address(params.source_address).packed
    if params.is_unicast:
        inst.dests = [p.packed for p in params.unicast_peers]
        inst.hoplimit = vi.effective.unicast_ttl
    inst.vips_packed = [v.packed for v in params.vips][:255]
    if inst.ah is not None:      # a new password; the sequence counter goes on
        inst.ah.key = ipsec_ah.hmac_key(params.auth_data)
    actions = inst.router.reconfigure(params, now)
    log.info("(%s) configuration changed on reload, applied in place", vi.name)
    # The prebuilt adverts carry the VIPs, source and destinations: rebuild them (the
    # schedule is kept; a StartAdvertising below re-schedules for a new priority/interval).
    rt.executor.build(inst, inst.periodic_priority if inst.periodic_priority != -1 else inst.built_priority,
                      force=True)
    rt.execute(inst, actions, now)      # virtual routes / rules a MASTER changes included
    rt.rearm(inst)


__all__ = ["apply", "reload", "write_states_to_fifos"]
