"""Throughput of the emulator through simple-salesforce: collections upsert and Bulk 2.0 upsert.

Runs the emulator in a separate process (as ``sis-sync emulator`` would) so client and server
do not share one interpreter lock, then drives it with the real client.

    .venv/bin/python scripts/bench_emulator.py [--records 20000] [--bulk-rows 200000]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
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


def _client(url: str, ca: str) -> Salesforce:
    s = requests.Session()
    s.verify, s.trust_env = ca, False
    tok = s.post(
        f"{url}/services/oauth2/token", data={"grant_type": "client_credentials"}, timeout=30
    ).json()
    return Salesforce(session_id=tok["access_token"], instance_url=tok["instance_url"], session=s)


def bench_collections(url: str, ca: str, total: int, threads: int) -> float:
    """Records/s of 200-record collections upserts, ``threads`` clients in parallel."""
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
        sf = clients[n % threads]
        res = sf.restful(
            "composite/sobjects/Contact/SIS_Sync_Key__c",
            method="PATCH",
            json={"allOrNone": False, "records": chunks[n]},
        )
        assert all(r["success"] for r in res), res[:1]

    t0 = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(send, range(len(chunks))))
    return total / (time.perf_counter() - t0)


def bench_bulk(url: str, ca: str, rows: int) -> float:
    """Rows/s of one Bulk 2.0 upsert job of ``rows`` rows (CSV upload to JobComplete)."""
    sf = _client(url, ca)
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as fh:
        fh.write("LastName,FirstName,Email,SIS_Sync_Key__c\n")
        fh.writelines(f"Bulk{i},F,b{i}@example.org,b{i}\n" for i in range(rows))
    t0 = time.perf_counter()
    res = sf.bulk2.Contact.upsert(csv_file=fh.name, external_id_field="SIS_Sync_Key__c", wait=0.05)
    elapsed = time.perf_counter() - t0
    Path(fh.name).unlink()
    assert res[0]["numberRecordsFailed"] == 0, res
    return rows / elapsed


def main() -> None:
    """Start an emulator process and print the figures."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=20_000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--bulk-rows", type=int, default=200_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as data:
        proc = subprocess.Popen(
            [sys.executable, "-c", SERVER, data], stdout=subprocess.PIPE, text=True
        )
        try:
            url = proc.stdout.readline().strip()
            ca = str(Path(data) / "ca.pem")
            coll = bench_collections(url, ca, args.records, args.threads)
            print(
                f"collections upsert (insert): {coll:,.0f} records/s "
                f"({args.records} records, 200/request, {args.threads} client threads)"
            )
            coll2 = bench_collections(url, ca, args.records, args.threads)
            print(f"collections upsert (update): {coll2:,.0f} records/s")
            bulk = bench_bulk(url, ca, args.bulk_rows)
            print(f"Bulk 2.0 upsert (insert):    {bulk:,.0f} rows/s ({args.bulk_rows} rows, 1 job)")
        finally:
            proc.terminate()
            proc.wait(timeout=10)


if __name__ == "__main__":
    main()
