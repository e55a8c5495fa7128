"""Host-side plan of one split-KV attention call: grid sizes, partial-buffer rows, query positions.

Built with vectorised CPU tensor ops from host copies of the lengths (read with one
device-to-host copy, or none when the caller passes them on the CPU), then sent to the
device in one host-to-device copy.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class HostMetadata:
    """CPU copies of `cu_q_lens`, `kv_lens` and `block_tables` (int32)."""

    cu_q_lens: torch.Tensor
    kv_lens: torch.Tensor
    block_tables: torch.Tensor


def read_metadata(cu_q_lens, kv_lens, block_tables) -> HostMetadata:
    """Host copies of the batch metadata: one packed copy for those on a device."""
    on_device = [t for t in (cu_q_lens, kv_lens, block_tables) if t.device.type != "cpu"]
    if not on_device:
        return HostMetadata(cu_q_lens, kv_lens, block_tables)
    packed = torch.cat([cu_q_lens.flatten(), kv_lens.flatten(), block_tables.flatten()]).cpu()
    cu, kv, tables = packed.split([cu_q_lens.numel(), kv_lens.numel(), block_tables.numel()])
    return HostMetadata(cu, kv, tables.view(block_tables.shape))


@dataclass(frozen=True)
class SplitPlan:
    """Everything the split and merge kernels need besides q and the cache (int32, on q's device).

    Partial rows are numbered session-major, then query, then split: session b's query j,
    split s is row `part_offsets[b] + j * n_splits_b + s`, with n_splits_b = ceil(kv_len_b /
    split_size) (0 for a session without queries).
    """

    cu_q_lens: torch.Tensor  # [batch + 1]
    kv_lens: torch.Tensor  # [batch]
    block_tables: torch.Tensor  # [batch, max_blocks]
    part_offsets: torch.Tensor  # [batch]: first partial row of each session
    q_pos: torch.Tensor  # [total_q]: position of each query in its session
    q_part_row: torch.Tensor  # [total_q]: partial row of each query's split 0
    work_session: torch.Tensor  # [n_work]: session of each (session, split) work item
    work_split: torch.Tensor  # [n_work]: split of each work item
    part_rows: int  # rows of the partial buffers
    max_q_len: int
    n_work: int  # (session, split) pairs with queries: the split kernel's grid, per query tile


def plan_splits(
    host: HostMetadata, given: HostMetadata, split_size: int, device: torch.device
) -> SplitPlan:
    """Plan from validated host metadata; `given` tensors already on `device` are used as is."""
    cu, kv = host.cu_q_lens.long(), host.kv_lens.long()
    batch = kv.numel()
    q_lens = cu[1:] - cu[:-1]
    n_splits = torch.where(q_lens > 0, (kv + split_size - 1) // split_size, 0)
    rows = q_lens * n_splits
    offsets = torch.cumsum(rows, 0) - rows
    seq = torch.repeat_interleave(torch.arange(batch), q_lens)
    j = torch.arange(int(cu[-1])) - cu[:-1][seq]
    q_pos = kv[seq] - q_lens[seq] + j
    q_part_row = offsets[seq] + j * n_splits[seq]
    # one work item per (session, split) that has queries: a ragged batch launches no
    # programs for the splits its short sessions do not have
    work_session = torch.repeat_interleave(torch.arange(batch), n_splits)
    first_item = torch.cumsum(n_splits, 0) - n_splits
    work_split = torch.arange(work_session.numel()) - first_item[work_session]

    pieces = {
        "part_offsets": offsets,
        "q_pos": q_pos,
        "q_part_row": q_part_row,
        "work_session": work_session,
        "work_split": work_split,
    }
    for name, ours, theirs in (
        ("cu_q_lens", host.cu_q_lens, given.cu_q_lens),
        ("kv_lens", host.kv_lens, given.kv_lens),
        ("block_tables", host.block_tables, given.block_tables),
    ):
        if theirs.device != device:
            pieces[name] = ours.flatten()
    packed = torch.cat([p.to(torch.int32) for p in pieces.values()]).to(device)
    views = dict(zip(pieces, packed.split([p.numel() for p in pieces.values()])))
    tables = views.get("block_tables")
    return SplitPlan(
        cu_q_lens=views.get("cu_q_lens", given.cu_q_lens),
        kv_lens=views.get("kv_lens", given.kv_lens),
        block_tables=given.block_tables if tables is None else tables.view(host.block_tables.shape),
        part_offsets=views["part_offsets"],
        q_pos=views["q_pos"],
        q_part_row=views["q_part_row"],
        work_session=views["work_session"],
        work_split=views["work_split"],
        part_rows=int(rows.sum()),
        max_q_len=int(q_lens.max()) if batch else 0,
        n_work=work_session.numel(),
    )
