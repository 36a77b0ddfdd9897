"""Services from the services file as real servers, one set per environment (D4).

    kinds.py          what each type is to apps: default endpoint, scheme, user (pure)
    versions.py       which installed server runs a `type: name:version` (choice pure)
    engines.py        how each server is initialised, run and checked (pure)
    relationships.py  PLATFORM_RELATIONSHIPS, service variables, /etc/hosts (pure)
    servers.py        prepare / start / wait_ready / stop one instance (effects)
    isolation.py      nftables: only related apps' uids may connect (effects)
    local.py          the deploy's terms: where an instance lives, expose, retire
"""
