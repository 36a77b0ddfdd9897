"""Running commands in bubblewrap sandboxes as unprivileged uids.

    layout.py      what of the host's root a sandbox sees (probed once)
    spec.py        SandboxSpec -> bwrap argv; the host settings builds inherit (pure)
    firewall.py    nftables: sandbox uids cannot reach the host's own addresses
    groups.py      stopping a sandbox's process group (TERM spares bwrap, then KILL)
    cgroupfs.py    finding the host's cgroup trees (v1 controllers or v2)
    pids.py        the pids limit of a build or app process tree (a cgroup of its own)
    run.py         run_oneshot: a build step or hook, output streamed line by line
    supervisor.py  the detached parent that keeps one app process running
    processes.py   start/find/stop supervised processes from the control plane
"""
