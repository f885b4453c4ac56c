"""Threads come from the CPUs a process is given: its affinity mask and its cgroup CPU quota (v2 ``cpu.max``, v1
``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``), read from hand-made cgroup files; an unreadable file falls back to
the affinity mask, never to zero threads; a parent's budget caps a child; every pipeline step declares CPU
requests and limits."""

from __future__ import annotations

import os

import pytest

from shopfloor.platform import cpus


@pytest.fixture
def affinity(monkeypatch):
    monkeypatch.setattr(cpus, "affinity_cpus", lambda: 16)  # a 16-core node
    monkeypatch.delenv(cpus.BUDGET_ENV, raising=False)


def test_cgroup_v2_quota_caps_the_node(tmp_path, affinity):
    (tmp_path / "cpu.max").write_text("50000 100000\n")  # half a CPU (a pod's 500m limit)
    assert cpus.cgroup_quota(tmp_path) == 0.5 and cpus.available_cpus(tmp_path) == 1
    (tmp_path / "cpu.max").write_text("250000 100000\n")
    assert cpus.available_cpus(tmp_path) == 3  # 2.5 CPUs, rounded up
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert cpus.cgroup_quota(tmp_path) is None and cpus.available_cpus(tmp_path) == 16


def test_cgroup_v1_quota(tmp_path, affinity):
    v1 = tmp_path / "cpu"
    v1.mkdir()
    (v1 / "cpu.cfs_quota_us").write_text("200000\n")
    (v1 / "cpu.cfs_period_us").write_text("100000\n")
    assert cpus.available_cpus(tmp_path) == 2
    (v1 / "cpu.cfs_quota_us").write_text("-1\n")  # no quota
    assert cpus.available_cpus(tmp_path) == 16


@pytest.mark.parametrize("content", ["", "garbage", "0 0", "-5 100000"])
def test_unreadable_or_odd_files_fall_back_to_the_affinity_mask(tmp_path, affinity, content):
    (tmp_path / "cpu.max").write_text(content)
    assert cpus.available_cpus(tmp_path) == 16
    assert cpus.threads_for(64, tmp_path) == 1  # never zero threads


def test_a_missing_cgroup_and_the_branches(tmp_path, affinity):
    assert cpus.available_cpus(tmp_path / "absent") == 16
    assert cpus.threads_for(4, tmp_path / "absent") == 4


def test_a_parents_budget_caps_but_never_raises(tmp_path, affinity, monkeypatch):
    (tmp_path / "cpu.max").write_text("400000 100000\n")
    monkeypatch.setenv(cpus.BUDGET_ENV, "2")
    assert cpus.threads_for(1, tmp_path) == 2
    monkeypatch.setenv(cpus.BUDGET_ENV, "64")
    assert cpus.threads_for(1, tmp_path) == 4


def test_use_cpus_sizes_the_pools(monkeypatch):
    import torch

    monkeypatch.setenv(cpus.BUDGET_ENV, "1")
    for name in cpus.POOL_ENVS:
        monkeypatch.delenv(name, raising=False)
    before = torch.get_num_threads()
    try:
        assert cpus.use_cpus() == 1
        assert torch.get_num_threads() == 1 and all(os.environ[n] == "1" for n in cpus.POOL_ENVS)
    finally:
        torch.set_num_threads(before)


def test_every_step_declares_cpu_and_memory(tmp_path):
    from pipelines.catalog import PIPELINES
    from pipelines.compile import compile_pipeline, documents
    from shopfloor.constants import STEP_CPU_LIMIT, STEP_CPU_REQUEST

    for name in PIPELINES:
        spec, _ = documents(compile_pipeline(name, out=tmp_path / f"{name}.yaml"))
        for executor in spec["deploymentSpec"]["executors"].values():
            resources = executor["container"].get("resources", {})
            assert resources.get("cpuLimit") == float(STEP_CPU_LIMIT), (name, executor["container"]["command"][-1])
            assert resources.get("cpuRequest") == float(STEP_CPU_REQUEST) and resources.get("memoryLimit")


def test_a_training_step_leaves_half_the_cpus_to_a_neighbour(tmp_path, affinity, monkeypatch):
    monkeypatch.delenv(cpus.BUDGET_ENV, raising=False)
    (tmp_path / "cpu.max").write_text("200000 100000\n")  # 2 CPUs: one thread, as benchmarks/thread_policy.py chose
    assert cpus.threads_for(1, tmp_path, share=cpus.TRAINING_SHARE) == 1
    assert cpus.threads_for(1, tmp_path / "absent", share=cpus.TRAINING_SHARE) == 8  # 16 in the affinity mask
    monkeypatch.setenv(cpus.BUDGET_ENV, "2")  # a dedicated machine's steps may be given more
    assert cpus.threads_for(1, tmp_path, share=cpus.TRAINING_SHARE) == 2
