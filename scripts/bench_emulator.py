"""Throughput of the emulator: sObject Collections upsert and Bulk 2.0 ingest, over real HTTPS.

Runs the emulator in a separate process (as ``sis-sync emulator`` would) so client and server
do not share one interpreter lock, then drives it with real clients:

- collections: 200-record ``PATCH composite/sobjects/Contact/SIS_Sync_Key__c`` through
  simple-salesforce's ``restful``, ``--threads`` clients in parallel; first all inserts, then the
  same keys again (all updates). Records/s from the first request to the last response.
- Bulk 2.0 ingest: one upsert job of ``--bulk-rows`` rows, driven with requests and polled every
  5 ms. Rows/s from job creation to the first poll that reports ``JobComplete`` — create, CSV
  upload, ``UploadComplete``, processing and the emulator's one deliberate ``InProgress`` poll
  included, client think-time not. Again as inserts, then as updates of the same keys; then
  inserts of Contacts that all name one Account (a lookup value every row shares, as every
  CampaignMember of one open day or every consent of one purpose does).
- Bulk 2.0 through simple-salesforce (``sf.bulk2.Contact.upsert``): the same job as the client
  runs it. Its poll loop sleeps ``wait + e^n / 1000`` seconds after the n-th poll, so this figure
  measures the client's back-off as much as the emulator.

Each figure is printed with ``os.getloadavg()`` (other work on the machine slows the wall clock),
the emulator process's CPU time per phase, which the load barely affects, and this client
process's CPU time (client and emulator share the machine's cores).

    .venv/bin/python scripts/bench_emulator.py [--records 20000] [--bulk-rows 100000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from simple_salesforce import Salesforce

SERVER = """
import sys
from pathlib import Path
from connector.emulator.server import EmulatorConfig, make_server
server, app = make_server(EmulatorConfig(data_dir=Path(sys.argv[1]), port=0))
print(app.base_url, flush=True)
server.serve_forever(poll_interval=0.2)
"""
VERSION = "v59.0"
POLL = 0.01


def _session(ca: str) -> requests.Session:
    s = requests.Session()
    s.verify, s.trust_env = ca, False  # REQUESTS_CA_BUNDLE would override verify
    return s


def _token(s: requests.Session, url: str) -> str:
    resp = s.post(
        f"{url}/services/oauth2/token", data={"grant_type": "client_credentials"}, timeout=30
    )
    resp.raise_for_status()
    return resp.json()["access_token"]


def _client(url: str, ca: str) -> Salesforce:
    s = _session(ca)
    return Salesforce(session_id=_token(s, url), instance_url=url, session=s)


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of process ``pid`` (Linux /proc), or None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _measure(pid: int, label: str, count: int, unit: str, run: Callable[[], None]) -> float:
    """Run one phase and print its rate, the load average and the emulator's CPU time."""
    cpu0, own0 = _cpu_seconds(pid), time.process_time()
    t0 = time.perf_counter()
    run()
    elapsed = time.perf_counter() - t0
    cpu1, own = _cpu_seconds(pid), time.process_time() - own0
    rate = count / elapsed
    load = "/".join(f"{x:.2f}" for x in os.getloadavg())
    cpu = ""
    if cpu0 is not None and cpu1 is not None and cpu1 > cpu0:
        cpu = f", emulator CPU {cpu1 - cpu0:.2f} s = {count / (cpu1 - cpu0):,.0f} {unit}/CPU-s"
    print(
        f"{label:<38} {rate:>9,.0f} {unit}/s ({count:,} in {elapsed:.2f} s{cpu}; "
        f"client CPU {own:.2f} s; load {load})"
    )
    return rate


def collections_phase(url: str, ca: str, total: int, threads: int) -> Callable[[], None]:
    """A phase that upserts ``total`` Contacts in 200-record collections requests."""
    chunks = [
        [
            {
                "attributes": {"type": "Contact"},
                "LastName": f"Last{i}",
                "FirstName": "F",
                "Email": f"p{i}@example.org",
                "SIS_Sync_Key__c": f"c{i}",
            }
            for i in range(start, min(start + 200, total))
        ]
        for start in range(0, total, 200)
    ]
    clients = [_client(url, ca) for _ in range(threads)]

    def send(n: int) -> None:
        res = clients[n % threads].restful(
            "composite/sobjects/Contact/SIS_Sync_Key__c",
            method="PATCH",
            json={"allOrNone": False, "records": chunks[n]},
        )
        assert all(r["success"] for r in res), res[:1]

    def run() -> None:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(send, range(len(chunks))))

    return run


def _bulk_csv(rows: int, account_id: str | None = None) -> bytes:
    if account_id is None:
        lines = ["LastName,FirstName,Email,SIS_Sync_Key__c\n"]
        lines.extend(f"Bulk{i},F,b{i}@example.org,b{i}\n" for i in range(rows))
    else:  # every Contact under one Account: one lookup value shared by all rows
        lines = ["LastName,FirstName,Email,SIS_Sync_Key__c,AccountId\n"]
        lines.extend(f"Kind{i},F,k{i}@example.org,k{i},{account_id}\n" for i in range(rows))
    return "".join(lines).encode()


def bulk_phase(url: str, ca: str, rows: int, *, one_parent: bool = False) -> Callable[[], None]:
    """A phase that runs one Bulk 2.0 upsert job of ``rows`` rows, polling every 10 ms.

    ``one_parent``: every row's ``AccountId`` is one Account (created first): the emulator's
    lookup index then holds all rows under one value (quadratic while it copied the bucket).
    """
    s = _session(ca)
    s.headers["Authorization"] = f"Bearer {_token(s, url)}"
    base = f"{url}/services/data/{VERSION}/jobs/ingest"
    account_id = None
    if one_parent:
        made = s.post(
            f"{url}/services/data/{VERSION}/sobjects/Account", json={"Name": "Bench"}, timeout=30
        )
        made.raise_for_status()
        account_id = made.json()["id"]
    data = _bulk_csv(rows, account_id)

    def run() -> None:
        job = s.post(
            base,
            json={
                "object": "Contact",
                "operation": "upsert",
                "externalIdFieldName": "SIS_Sync_Key__c",
                "contentType": "CSV",
                "lineEnding": "LF",
            },
            timeout=30,
        ).json()
        put = s.put(
            f"{base}/{job['id']}/batches",
            data=data,
            headers={"Content-Type": "text/csv"},
            timeout=120,
        )
        put.raise_for_status()
        s.patch(f"{base}/{job['id']}", json={"state": "UploadComplete"}, timeout=30)
        while True:
            info = s.get(f"{base}/{job['id']}", timeout=30).json()
            if info["state"] in ("JobComplete", "Failed", "Aborted"):
                break
            time.sleep(POLL)
        assert info["state"] == "JobComplete", info
        assert info["numberRecordsProcessed"] == rows, info
        assert info["numberRecordsFailed"] == 0, info

    return run


def simple_salesforce_bulk_phase(url: str, ca: str, rows: int) -> Callable[[], None]:
    """A phase that runs the same upsert job through ``sf.bulk2`` (its own polling)."""
    sf = _client(url, ca)
    path = Path(tempfile.mkdtemp(prefix="bench-emu-")) / "contacts.csv"
    path.write_bytes(_bulk_csv(rows))

    def run() -> None:
        res = sf.bulk2.Contact.upsert(
            csv_file=str(path), external_id_field="SIS_Sync_Key__c", wait=0.05
        )
        assert res[0]["numberRecordsFailed"] == 0, res

    return run


def main() -> None:
    """Start an emulator process and print the figures."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=20_000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--bulk-rows", type=int, default=100_000)
    ap.add_argument("--skip-simple-salesforce-bulk", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as data:
        proc = subprocess.Popen(
            [sys.executable, "-c", SERVER, data], stdout=subprocess.PIPE, text=True
        )
        try:
            assert proc.stdout is not None
            url = proc.stdout.readline().strip()
            ca = str(Path(data) / "ca.pem")
            pid = proc.pid
            n, t = args.records, args.threads
            print(f"collections: {n:,} Contacts, 200/request, {t} client threads")
            _measure(
                pid, "collections upsert (insert)", n, "records", collections_phase(url, ca, n, t)
            )
            _measure(
                pid, "collections upsert (update)", n, "records", collections_phase(url, ca, n, t)
            )
            rows = args.bulk_rows
            print(f"Bulk 2.0: one upsert job of {rows:,} Contact rows")
            _measure(
                pid,
                "Bulk 2.0 ingest, 10 ms polls (insert)",
                rows,
                "rows",
                bulk_phase(url, ca, rows),
            )
            _measure(
                pid,
                "Bulk 2.0 ingest, 10 ms polls (update)",
                rows,
                "rows",
                bulk_phase(url, ca, rows),
            )
            _measure(
                pid,
                "Bulk 2.0 ingest, all rows under one Account (insert)",
                rows,
                "rows",
                bulk_phase(url, ca, rows, one_parent=True),
            )
            if not args.skip_simple_salesforce_bulk:
                _measure(
                    pid,
                    "Bulk 2.0 via simple-salesforce (update)",
                    rows,
                    "rows",
                    simple_salesforce_bulk_phase(url, ca, rows),
                )
        finally:
            proc.terminate()
            proc.wait(timeout=10)


if __name__ == "__main__":
    main()
