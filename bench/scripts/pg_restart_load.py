#!/usr/bin/env python3
"""Sends pickup requests to a running `dossier serve` from several threads for a while and records every
answer: one line per request, `<unix time> <HTTP status or error> <dossier code or ->`.

Used by pg-restart.sh; the standard library only. The request is built from the service's own reference
data (the first agency, its ward, the procedure's documents), with a new phone per request.
"""
import argparse
import json
import random
import threading
import time
import urllib.error
import urllib.request


def get(base, path):
    with urllib.request.urlopen(base + path, timeout=10) as res:
        return json.load(res)


def request_body(base):
    agency = next(a for a in get(base, "/api/v1/agencies") if a["code"] == "UBND-P-HOANKIEM")
    procedure = get(base, "/api/v1/procedures?agency=" + agency["code"])[0]
    documents = [
        {"code": d.get("code"), "name": d["name"], "original": True, "copies": 1}
        for d in procedure["documents"]
    ]
    return {
        "procedure_code": procedure["code"],
        "agency_code": agency["code"],
        "service_mode": "send_and_return",
        "applicant": {"full_name": "Nguyễn Văn An", "phone": "", "id_number": "001090012345"},
        "pickup_address": {"line": "12 Tràng Tiền", "ward_code": agency["ward_code"],
                           "province_code": agency["province_code"]},
        "return_address": None,
        "documents": documents,
        "with_appointment": False,
        "fee_exemption": "none",
    }


def sender(base, body, until, out, lock):
    rng = random.Random()
    while time.time() < until:
        body = dict(body, applicant=dict(body["applicant"], phone="09" + "".join(rng.choice("0123456789") for _ in range(8))))
        req = urllib.request.Request(base + "/api/v1/dossiers", data=json.dumps(body).encode(),
                                     headers={"content-type": "application/json"}, method="POST")
        code = "-"
        try:
            with urllib.request.urlopen(req, timeout=10) as res:
                status = str(res.status)
                code = json.load(res).get("code", "-")
        except urllib.error.HTTPError as err:
            status = str(err.code)
        except Exception as err:  # connection refused, reset, timeout
            status = type(err).__name__
            time.sleep(0.05)
        with lock:
            out.write(f"{time.time():.3f} {status} {code}\n")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--base", required=True)
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--threads", type=int, default=8)
    p.add_argument("--out", required=True)
    args = p.parse_args()
    body = request_body(args.base)
    until = time.time() + args.seconds
    lock = threading.Lock()
    with open(args.out, "w") as out:
        threads = [threading.Thread(target=sender, args=(args.base, body, until, out, lock))
                   for _ in range(args.threads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()


if __name__ == "__main__":
    main()
