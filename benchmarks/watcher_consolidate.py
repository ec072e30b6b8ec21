"""Run OpenStack Watcher's ``node_resource_consolidation`` strategy offline on a cluster model
given as JSON on stdin; print its migrations and efficacy indicators as JSON.

Run with a Python that has python-watcher installed (it pulls in oslo.*, eventlet, taskflow
and friends, so keep it in its own virtualenv):

    python -m venv /tmp/wvenv && /tmp/wvenv/bin/pip install python-watcher
    WATCHER_PYTHON=/tmp/wvenv/bin/python python benchmarks/placement.py

How it is run offline: the strategy's compute model (``ModelRoot`` of ``ComputeNode`` and
``Instance`` elements) is built from the JSON instead of being collected from nova, and the
strategy runs with ``host_choice=specify`` so it names a destination for every migration
(with ``auto`` it leaves the choice to nova's scheduler, which cannot be compared). This
strategy needs no metrics datasource: it works from flavor sizes, like govcloud.

What it ignores (its own design, not a limitation of the harness): disk (it checks vCPU and
RAM only) and server groups (anti-affinity); zones are respected here only because each
zone is given to it as a separate model. Headroom is expressed through the allocation ratios
(ratio × headroom), since Watcher has no headroom setting.
Watcher's other consolidation strategy, ``vm_workload_consolidation``, packs by measured
utilisation from a metrics datasource (Gnocchi, Prometheus...); with no monitoring data there
is nothing for it to read, so it is not run.
"""

from __future__ import annotations

import io
import json
import logging
import sys
import time
import uuid
import warnings


def main() -> None:
    warnings.simplefilter("ignore")
    logging.disable(logging.CRITICAL)
    data = json.load(sys.stdin)
    real_stdout = sys.stdout
    sys.stdout = io.StringIO()  # Watcher and oslo print deprecation notices on import
    from oslo_config import cfg
    from watcher.common import utils
    from watcher.decision_engine.model import element, model_root
    from watcher.decision_engine.strategy.strategies import node_resource_consolidation

    cfg.CONF([], project="watcher")
    cpu_ratio, ram_ratio, disk_ratio = data["ratios"]
    start = time.perf_counter()
    steps: list[list[str]] = []
    released = nodes = migrations = 0
    used_before = used_after = 0
    for zone in sorted({h["zone"] for h in data["hosts"]}):
        model = model_root.ModelRoot()
        by_name = {}
        for n, h in enumerate(h for h in data["hosts"] if h["zone"] == zone):
            node = element.ComputeNode(
                id=n, uuid=str(uuid.uuid5(uuid.NAMESPACE_DNS, h["name"])), hostname=h["name"],
                status=element.ServiceState.ENABLED.value, state=element.ServiceState.ONLINE.value,
                vcpus=int(h["vcpus"]), memory=int(h["ram_gb"] * 1024), disk=int(h["disk_gb"]),
                vcpu_reserved=0, memory_mb_reserved=0, disk_gb_reserved=0,
                vcpu_ratio=cpu_ratio, memory_ratio=ram_ratio, disk_ratio=disk_ratio)
            model.add_node(node)
            by_name[h["name"]] = node
        keys = {}
        for s in data["servers"]:
            if s["zone"] != zone:
                continue
            inst = element.Instance(
                uuid=str(uuid.uuid5(uuid.NAMESPACE_DNS, s["key"])), name=s["key"],
                state=element.InstanceState.ACTIVE.value, vcpus=int(s["vcpus"]),
                memory=int(s["ram_gb"] * 1024), disk=int(s["disk_gb"]),
                project_id=str(uuid.uuid5(uuid.NAMESPACE_DNS, s["key"].split("/")[0])),
                metadata={}, locked=False, watcher_exclude=False, host=s["host"])
            model.add_instance(inst)
            model.map_instance(inst, by_name[s["host"]])
            keys[inst.uuid] = s["key"]
        used_before += sum(1 for node in by_name.values() if model.get_node_instances(node))
        strategy = node_resource_consolidation.NodeResourceConsolidation(
            config=utils.Struct(datasources=None))
        strategy._compute_model = model
        strategy.input_parameters = utils.Struct(host_choice="specify")
        strategy.pre_execute()
        strategy.do_execute(audit=None)
        strategy.post_execute()
        for action in strategy.solution.actions:
            if action["action_type"] == "migrate":
                p = action["input_parameters"]
                steps.append([keys[p["resource_id"]], p["source_node"],
                              p["destination_node"]])
        ind = dict(strategy.solution.efficacy._indicators_mapping)
        released += int(ind.get("released_compute_nodes_count", 0))
        migrations += int(ind.get("instance_migrations_count", 0))
        nodes += int(ind.get("compute_nodes_count", 0))
        used_after += sum(1 for node in by_name.values() if model.get_node_instances(node))
    sys.stdout = real_stdout
    json.dump({"released": released, "migrations": migrations, "nodes": nodes,
               "hosts_before": used_before, "hosts_after": used_after, "steps": steps,
               "seconds": time.perf_counter() - start}, sys.stdout)


if __name__ == "__main__":
    main()
