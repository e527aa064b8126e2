"""What a school's IT admin would write instead of sis-sync: one Bulk API 2.0 upsert of a CSV.

The CSV is prepared beforehand (one column per Contact field, the external id included); the
script logs in with the connected app's client credentials (simple-salesforce builds
``*.salesforce.com`` token URLs only, so the token request is made by hand) and hands the file to
``sf.bulk2.Contact.upsert``, with the library's defaults. The benchmark
``scripts/bench_scale.py bulk-vs-script`` times it beside sis-sync on the same records.

    SF_INSTANCE_URL=https://127.0.0.1:PORT SF_CLIENT_ID=x SF_CLIENT_SECRET=y \
    REQUESTS_CA_BUNDLE=ca.pem python scripts/bulk2_baseline.py contacts.csv
"""

import os
import sys

import requests
from simple_salesforce import Salesforce


def main(csv_file: str) -> int:
    """Upsert every row of ``csv_file`` as a Contact by SIS_Student_Number__c; 1 if any failed."""
    token = requests.post(
        os.environ["SF_INSTANCE_URL"] + "/services/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": os.environ["SF_CLIENT_ID"],
            "client_secret": os.environ["SF_CLIENT_SECRET"],
        },
        timeout=60,
    )
    token.raise_for_status()
    sf = Salesforce(
        instance_url=token.json()["instance_url"], session_id=token.json()["access_token"]
    )
    results = sf.bulk2.Contact.upsert(csv_file, external_id_field="SIS_Student_Number__c")
    failed = sum(int(r["numberRecordsFailed"]) for r in results)
    done = sum(int(r["numberRecordsProcessed"]) for r in results)
    print(f"{done} processed, {failed} failed, {len(results)} job(s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
