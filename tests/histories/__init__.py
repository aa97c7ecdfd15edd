"""Randomised cluster histories (model-based testing), issue 23 item 1.

A *history* is a cluster (2-3 VRRP nodes on one LAN, each pykeepalived or keepalived 2.2.7,
one protocol cell) and a list of events (tracker changes, reloads, kills, stops, link flaps,
partitions, loss, VIP deletion, SIGSTOP/SIGCONT).  `model` generates histories from a seed and
predicts, after each event, which nodes may be master; `runner` plays a history in a namespace
lab and checks RFC 5798 / keepalived invariants against the wire, the interfaces, the logs, the
notify FIFOs and a client after each event's quiet period; `shrink` reduces a failing history
to a short reproduction (delta debugging over the events); `regressions` keeps the reductions.
"""
