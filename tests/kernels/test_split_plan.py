"""The host-side split plan: positions and partial rows by hand, and metadata packing."""

from __future__ import annotations

import torch

from kernels.split_plan import HostMetadata, plan_splits, read_metadata


def i32(values):
    return torch.tensor(values, dtype=torch.int32)


# session 0: 2 queries at kv_len 17 (2 splits of 16); session 1: no queries; session 2: a
# 3-token prefill from an empty cache (1 split)
HOST = HostMetadata(i32([0, 2, 2, 5]), i32([17, 40, 3]), i32([[4, 0, -1], [1, 2, 3], [5, -1, -1]]))


def test_positions_and_partial_rows_by_hand():
    plan = plan_splits(HOST, HOST, 16, torch.device("cpu"))
    assert plan.q_pos.tolist() == [15, 16, 0, 1, 2]
    assert plan.part_offsets.tolist() == [0, 4, 4]
    assert plan.q_part_row.tolist() == [0, 2, 4, 5, 6]
    assert (plan.part_rows, plan.max_q_len, plan.n_work) == (7, 3, 3)
    # work items (session, split): session 1 has no queries, so no programs
    assert plan.work_session.tolist() == [0, 0, 2]
    assert plan.work_split.tolist() == [0, 1, 0]
    # metadata already on the device is used as is, not copied
    assert plan.block_tables is HOST.block_tables and plan.kv_lens is HOST.kv_lens


def test_metadata_elsewhere_is_packed_onto_the_device():
    elsewhere = HostMetadata(*(t.to("meta") for t in vars(HOST).values()))
    plan = plan_splits(HOST, elsewhere, 16, torch.device("cpu"))
    assert torch.equal(plan.cu_q_lens, HOST.cu_q_lens)
    assert torch.equal(plan.kv_lens, HOST.kv_lens)
    assert torch.equal(plan.block_tables, HOST.block_tables)
    assert plan.q_pos.tolist() == [15, 16, 0, 1, 2]


def test_read_metadata_keeps_cpu_tensors():
    host = read_metadata(HOST.cu_q_lens, HOST.kv_lens, HOST.block_tables)
    assert host.block_tables is HOST.block_tables
