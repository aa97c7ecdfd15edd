"""keepalived.conf's keyword tables, one module per block: keyword -> handler (see
config/blocks.py). `root.ROOT` is the top level; the others are reached through its blocks."""
