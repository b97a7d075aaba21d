"""Generates registration tokens the way a Python team would, with the
standard library only (hmac, hashlib, base64, json): json.dumps with its
default separators (", " and ": ") and sort_keys=True, a "typ" header.
One correct case and one case per classic mistake.

The tokens are written, with their fixed inputs, to ../python.json, which
credentials/check_test.go replays; the Go tests never run python.

    cd credentials/testdata/check/gen && python3 gen_python.py

The clock is fixed per case so that the output is reproducible apart from
the random nonces.
"""

import base64
import calendar
import hashlib
import hmac
import json
import os
import time
import uuid

# The local-date mistake needs a zone whose date differs from UTC's at the
# chosen time: 02:30 UTC on March 11 is 22:30 on March 10 in New York (EDT).
os.environ["TZ"] = "America/New_York"
time.tzset()

APP_KEY = "a32e5a8d-f7d8-411c-9645-9038e8dd051d"
SECRET = "ax8hTTQJF0OPXL32r1LHMA=="
# Check's default users, in the order of its five requests.
USERS = ["check-user-1", "Check_User_2", "cu3", "check-user-1", "Check_User_2"]
STATIC_NONCE = "0b0c2a52-3c5e-4f0e-9a51-2d7b3c1e9f00"


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode("ascii")


def signing_key(date):
    return hmac.new(base64.b64decode(SECRET), date.encode("utf-8"), hashlib.sha256).digest()


def mint(user, now, mistake=""):
    date = time.strftime("%Y%m%d", time.gmtime(now))
    key = signing_key(date)
    header = {"alg": "HS256", "kid": "hkdfv1-" + date, "typ": "JWT"}
    iat = int(now)
    claims = {
        "iss": "//rtc.sinch.com/applications/" + APP_KEY,
        "sub": "//rtc.sinch.com/applications/" + APP_KEY + "/users/" + user,
        "iat": iat,
        "exp": iat + 600,
        "nonce": str(uuid.uuid4()),
    }
    if mistake == "secret_text_as_key":  # secret_not_base64_decoded in docs/ERRORS.md (rule 4 of docs/RULES.md)
        key = hmac.new(SECRET.encode("utf-8"), date.encode("utf-8"), hashlib.sha256).digest()
    elif mistake == "local_date_kid":  # the Sinch samples' local date
        date = time.strftime("%Y%m%d", time.localtime(now))
        header["kid"] = "hkdfv1-" + date
        key = signing_key(date)
    elif mistake == "milliseconds":
        ms = int(now * 1000)
        claims["iat"], claims["exp"] = ms, ms + 600 * 1000
    elif mistake == "static_nonce":
        claims["nonce"] = STATIC_NONCE
    elif mistake == "header_type_typo":
        del header["typ"]
        header["type"] = "JWT"
    elif mistake == "instance_ttl_short":
        claims["sinch:rtc:instance:exp"] = iat + 24 * 3600
    elif mistake == "user_id_email":
        claims["sub"] += "@example.com"
    elif mistake == "instance_ttl_missing":
        pass  # the request asked for a limited instance TTL; none is added
    h = b64url(json.dumps(header, sort_keys=True).encode("utf-8"))
    p = b64url(json.dumps(claims, sort_keys=True).encode("utf-8"))
    sig = hmac.new(key, (h + "." + p).encode("ascii"), hashlib.sha256).digest()
    return h + "." + p + "." + b64url(sig)


CASES = [
    {"name": "correct", "now": "2024-03-10T12:00:00Z", "expect": "valid", "severity": "PASS"},
    {"name": "secret_text_as_key", "now": "2024-03-10T12:00:00Z", "expect": "secret_not_base64_decoded", "severity": "FAIL"},
    {"name": "local_date_kid", "now": "2024-03-11T02:30:00Z", "expect": "kid_date_not_utc", "severity": "FAIL"},
    {"name": "milliseconds", "now": "2024-03-10T12:00:00Z", "expect": "timestamps_in_milliseconds", "severity": "FAIL"},
    {"name": "static_nonce", "now": "2024-03-10T12:00:00Z", "expect": "nonce_reused", "severity": "FAIL", "token_expect": "valid"},
    {"name": "header_type_typo", "now": "2024-03-10T12:00:00Z", "expect": "header_typo", "severity": "WARN"},
    {"name": "instance_ttl_short", "now": "2024-03-10T12:00:00Z", "expect": "instance_ttl_too_short", "severity": "FAIL", "instance_ttl_expected": True},
    {"name": "instance_ttl_missing", "now": "2024-03-10T12:00:00Z", "expect": "instance_ttl_required", "severity": "FAIL", "token_expect": "valid", "instance_ttl_expected": True},
    {"name": "user_id_email", "now": "2024-03-10T12:00:00Z", "expect": "user_id_invalid", "severity": "FAIL"},
]


def main():
    out = {
        "generator": "python " + ".".join(map(str, __import__("sys").version_info[:3])) + ", standard library",
        "timezone": os.environ["TZ"],
        "app_key": APP_KEY,
        "secret": SECRET,
        "cases": [],
    }
    for c in CASES:
        now = calendar.timegm(time.strptime(c["now"], "%Y-%m-%dT%H:%M:%SZ"))
        mistake = "" if c["name"] == "correct" else c["name"]
        case = dict(c)
        case["tokens"] = [{"user": u, "token": mint(u, now, mistake)} for u in USERS]
        out["cases"].append(case)
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=2)
        f.write("\n")
    print("wrote", len(out["cases"]), "cases to python.json")


if __name__ == "__main__":
    main()
