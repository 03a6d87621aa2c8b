"""A structured fuzzer of the worker protocol (issue 13): a worker that
registered properly sends valid-but-hostile frames of every kind (unknown
enums, extreme numbers, huge strings, frames out of order, a second
Register) on one long stream. After every example the master must still do
its job, not merely be up: a good batch on the same stream is stored and
acked, heartbeats keep the worker online, every List RPC answers, no task
failed and health is SERVING. At the end a real worker's items all arrived,
and a failover moves an account with nothing lost."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hiscrm.v1 import common_pb2, control_pb2, gateway_pb2
from tests.delivery_helpers import create, stored_ids, synthetic_spec
from tests.harness import Cluster, wait_for
from tests.raw_worker import RawWorker, item, register
from tests.test_hostile_frames import (
    expected_ids,
    list_everything,
    pinned_account,
    rows_of,
    serving,
    stats,
)

ONLINE = common_pb2.WORKER_STATE_ONLINE
RAW = "fz-raw"
RAW_ACC = "fz-raw-acc"

enums = st.one_of(st.integers(0, 15), st.integers(16, 2**31 - 1), st.integers(-(2**31), -1))
u64 = st.one_of(st.integers(0, 1000), st.just(2**64 - 1), st.integers(0, 2**64 - 1))
i64 = st.one_of(st.integers(-5, 1000), st.just(2**63 - 1), st.just(-(2**63)))
doubles = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.just(-1.0))
texts = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["x" * 300, "é" * 40_000, "y" * (1 << 20), "\u0000", "../../etc/passwd"]),
)
account_ids = st.one_of(st.just(RAW_ACC), st.just("nope"), texts)
blobs = st.one_of(st.binary(max_size=32), st.just(b"\0" * (2 << 20)))


def items() -> st.SearchStrategy[common_pb2.Item]:
    return st.builds(
        lambda platform, kind, pid, content, author, raw_json: common_pb2.Item(
            platform=platform,
            account_id=RAW_ACC,
            kind=kind,
            platform_item_id=pid,
            content=content,
            author_name=author,
            raw_json=raw_json,
        ),
        st.one_of(st.just(common_pb2.PLATFORM_SYNTHETIC), enums),
        enums,
        texts,
        texts,
        texts,
        st.one_of(st.just(""), st.just("z" * (300 << 10))),
    )


def frames() -> st.SearchStrategy[gateway_pb2.WorkerFrame]:
    wf = gateway_pb2.WorkerFrame
    return st.one_of(
        st.builds(
            lambda seq, acc, its: wf(
                items=gateway_pb2.ItemsBatch(seq=seq, account_id=acc, items=its)
            ),
            u64,
            account_ids,
            st.lists(items(), max_size=2),
        ),
        st.builds(
            lambda pending, cpu, rss, state: wf(
                heartbeat=gateway_pb2.Heartbeat(
                    outbox_pending=pending,
                    stats=common_pb2.ProcessStats(cpu_percent=cpu, rss_bytes=rss),
                    accounts=[gateway_pb2.AccountStatus(account_id=RAW_ACC, state=state)],
                )
            ),
            u64,
            doubles,
            u64,
            enums,
        ),
        st.builds(
            lambda acc, state, kind, reason, cursor: wf(
                account_state=gateway_pb2.AccountState(
                    account_id=acc, state=state, error_kind=kind, reason=reason, cursor=cursor
                )
            ),
            account_ids,
            enums,
            enums,
            texts,
            texts,
        ),
        st.builds(
            lambda acc, version, ok, error: wf(
                config_ack=gateway_pb2.ConfigAck(
                    account_id=acc, config_version=version, ok=ok, error=error
                )
            ),
            account_ids,
            i64,
            st.booleans(),
            texts,
        ),
        st.builds(
            lambda rid, acc, kind, error: wf(
                command_result=gateway_pb2.CommandResult(
                    request_id=rid, account_id=acc, error_kind=kind, error=error
                )
            ),
            texts,
            account_ids,
            enums,
            texts,
        ),
        st.builds(
            lambda sid, acc, png, kind: wf(
                login=gateway_pb2.LoginEvent(
                    session_id=sid,
                    account_id=acc,
                    qr=gateway_pb2.LoginQr(png=png),
                )
                if kind % 2
                else gateway_pb2.LoginEvent(
                    session_id=sid,
                    account_id=acc,
                    failed=gateway_pb2.LoginFailed(kind=kind, reason="f"),
                )
            ),
            texts,
            account_ids,
            blobs,
            enums,
        ),
        st.builds(
            lambda acc, session, version: wf(
                session_refresh=gateway_pb2.SessionRefresh(
                    account_id=acc, session=session, config_version=version
                )
            ),
            account_ids,
            blobs,
            i64,
        ),
        st.builds(
            lambda platforms, version: register(RAW, platforms=platforms, version=version),
            st.lists(enums, max_size=3),
            texts,
        ),
        st.just(wf()),
    )


def test_structured_hostile_frames_leave_every_function_working(cluster: Cluster) -> None:
    real_total = 800
    cluster.start_master()
    cluster.start_worker("fz-real")
    cluster.wait_worker_state("fz-real", ONLINE)
    raw = RawWorker(cluster, register(RAW)).keep_alive()
    raw.welcomed()
    pinned_account(cluster, RAW_ACC, RAW)
    raw.assigned(RAW_ACC)
    create(cluster, "fz-real-acc", synthetic_spec(rate=40, total=real_total))
    seqs = itertools.count(10**6)
    probes: list[str] = []

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(frames(), min_size=1, max_size=6))
    def session(hostile: list[gateway_pb2.WorkerFrame]) -> None:
        for frame in hostile:
            raw.send(frame)
        # ingest still works on the same stream: a good batch is stored and acked
        seq = next(seqs)
        probes.append(f"probe-{seq}")
        raw.send(
            gateway_pb2.WorkerFrame(
                items=gateway_pb2.ItemsBatch(
                    seq=seq, account_id=RAW_ACC, items=[item(RAW_ACC, f"probe-{seq}")]
                )
            )
        )
        raw.wait("ack", lambda a: a.seq == seq)
        assert not raw.ended.is_set(), raw.error
        list_everything(cluster)
        s = stats(cluster)
        assert sum(s.task_failures.values()) == 0, dict(s.task_failures)
        assert serving(cluster)
        assert cluster.workers_by_id()[RAW].state == ONLINE  # heartbeats still count

    session()

    assert set(rows_of(cluster, RAW_ACC)) >= {(RAW_ACC, f"{RAW_ACC}-{p}") for p in probes}
    wait_for(lambda: len(rows_of(cluster, "fz-real-acc")) == real_total, timeout=120, what="real")
    assert set(rows_of(cluster, "fz-real-acc")) == expected_ids("fz-real-acc", real_total)
    raw.close()

    # failover after all that: a second real worker takes the account over
    create(cluster, "fz-fo", synthetic_spec(rate=50, total=400))
    wait_for(lambda: rows_of(cluster, "fz-fo"), timeout=60, what="first failover items")
    cluster.start_worker("fz-real-2")
    cluster.wait_worker_state("fz-real-2", ONLINE)
    holder = cluster.call("GetAccount", control_pb2.GetAccountRequest(account_id="fz-fo")).worker_id  # type: ignore[attr-defined]
    cluster.workers[holder].kill9()
    wait_for(lambda: len(rows_of(cluster, "fz-fo")) == 400, timeout=120, what="failover items")
    assert set(rows_of(cluster, "fz-fo")) == expected_ids("fz-fo", 400)
    assert len(stored_ids(cluster)) == len(set(stored_ids(cluster)))
    assert sum(stats(cluster).task_failures.values()) == 0
