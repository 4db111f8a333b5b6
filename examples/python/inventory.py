#!/usr/bin/env python3
"""Walk the demo inventory from Python: VMs, hosts, services, IP addresses.

    python3 examples/python/inventory.py [DB_PATH]

Without DB_PATH the demo inventory goes into a temporary database. Every
address in it is on loopback (127.0.1.0/24); nothing is contacted.
"""
import os
import sys
import tempfile

import homelab


def main(db_path: str) -> None:
    with homelab.Homelab(db_path) as hl:
        if hl.list_vms()["count"] == 0:
            hl.load_demo()

        for vm in hl.list_vms(status="running")["vms"]:
            print(f"{vm['vm_id']} {vm['name']} {vm['ip']} {vm['status']} on {vm['host']}")

        host = hl.get_host(name="pve")
        print(f"host {host['node_name']} ({host['ip_address']}) runs {host['vm_count']} VMs")

        for svc in hl.list_services(vm_id="harbor")["services"]:
            print(f"service {svc['service_name']} at {svc['url']}")

        owner = hl.lookup_ip(ip="127.0.1.201")
        print(f"127.0.1.201 is held by {', '.join(owner['held_by'])}")

        new = hl.allocate_ip(subnet="127.0.1.0/24", allocated_to="example", hostname="example.lab")
        print(f"allocated {new['ip_address']} to {new['allocated_to']}")

        # The same call by the tool's MCP name:
        print(f"{hl.call('homelab_list_ips', subnet='127.0.1.0/24')['count']} addresses allocated")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(sys.argv[1])
    else:
        with tempfile.TemporaryDirectory() as d:
            main(os.path.join(d, "homelab.db"))
