#!/usr/bin/python3
"""fakecw.py - a fake ConnectWise PSA server for cwtimed's tests and benchmarks.

Job: answer the /time subset of the ConnectWise REST API (plus the codebase lookup and
GET of service and project tickets) the way /work/shared/connectwise-api.md describes,
with the choices of its section 14 where ConnectWise is unconfirmed; inject faults on
command; record every request.  See README.md beside this file for the whole contract.

Invariants:
  - binds loopback only (127.0.0.1, or ::1 never; there is no --host option);
  - all state lives in one App object guarded by one lock; a handler holds the lock only
    while it computes a reply, never while it sleeps, stalls or writes to the socket;
  - every request to the API (not to the /__fake control interface) is logged exactly
    once, including the ones a fault swallowed, with what was (or would have been) sent;
  - a reply is written with a single write() so that Nagle never delays the body;
  - standard library only (plus conditions.py and patch.py beside it).
"""

import argparse
import base64
import copy
import datetime
import email.utils
import fnmatch
import http.server
import json
import os
import queue
import random
import re
import signal
import socket
import ssl
import struct
import sys
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True     # keep __pycache__ out of the source tree

import conditions  # noqa: E402
import patch as jsonpatch  # noqa: E402

MODEL_VERSION = "2026.4"
SCHEMA_FILE = os.path.join(HERE, "schema", "cw-time-subset.openapi.json")
SEED_FILE = os.path.join(HERE, "seed.json")

DEFAULT_COMPANY = "examplemsp"
DEFAULT_PUBLIC_KEY = "fakePublicKey01"
DEFAULT_PRIVATE_KEY = "fakePrivateKey01"
DEFAULT_CLIENT_ID = "5c2f3f7e-1b2a-4c59-9d3e-7f0a1b2c3d4e"

API_RE = re.compile(r"^/(v4_6_release|v\d{4}_\d+)/apis/3\.0(/.*)?$")
ISO_Z_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                     r"[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
COND_HELP = ("Conditions must be of the form field operator value; strings must be "
             "in \"double\" or 'single' quotes, dates in [brackets], numbers as "
             "digits, booleans as true or false, and null as null")

# Fields the server owns on a TimeEntry (connectwise-api.md 3.1, owner S).  Sent on
# POST or PUT they are ignored and overwritten, and the request log flags them.
ENTRY_SERVER_OWNED = (
    "id", "companyType", "businessGroupDesc", "agreementType", "hoursBilled",
    "invoiceHours", "hourlyCost", "enteredBy", "dateEntered", "invoice",
    "agreementHours", "agreementAmount", "agreementAdjustment", "invoiceReady",
    "timeSheet", "status", "ticket", "ticketBoard", "ticketStatus", "ticketType",
    "ticketSubType", "extendedInvoiceAmount", "locationName", "_info")
OPEN_SHEET = ("Open", "Rejected", "ErrorsCorrected")
BILLED = ("Billed", "BilledAgreement")

REASONS = {
    200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request",
    401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 408: "Request Timeout", 409: "Conflict",
    411: "Length Required", 413: "Payload Too Large", 414: "URI Too Long",
    431: "Request Header Fields Too Large", 415: "Unsupported Media Type",
    429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
    503: "Service Unavailable", 504: "Gateway Timeout",
}

HTML_PAGE = (b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
             b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
             b"</body>\r\n</html>\r\n")

MAX_BODY = 4 * 1024 * 1024


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def fmt_dt(dt):
    return dt.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_z(text):
    """yyyy-MM-ddTHH:mm:ssZ -> aware datetime; ValueError otherwise."""
    if not ISO_Z_RE.match(text):
        raise ValueError("not yyyy-MM-ddTHH:mm:ssZ: %r" % (text,))
    return datetime.datetime(int(text[0:4]), int(text[5:7]), int(text[8:10]),
                             int(text[11:13]), int(text[14:16]), int(text[17:19]),
                             tzinfo=datetime.timezone.utc)


def drop_nulls(obj):
    """Replies leave out null fields, as ConnectWise's serializer does.
    (Recurses only into containers: a call per scalar was a tenth of the
    fake's time per POST.)"""
    if isinstance(obj, dict):
        return {k: (drop_nulls(v) if isinstance(v, (dict, list)) else v)
                for k, v in obj.items() if v is not None}
    if isinstance(obj, list):
        return [drop_nulls(v) if isinstance(v, (dict, list)) else v for v in obj]
    return obj


class CwError(Exception):
    """A reply in ConnectWise's error shape: {"code","message","errors"}."""

    def __init__(self, status, code, message, errors=None, headers=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors
        self.headers = headers or {}

    def body(self):
        return {"code": self.code, "message": self.message, "errors": self.errors}


def invalid(resource, code, message, field):
    """400 InvalidObject with one nested ValidationError."""
    return CwError(400, "InvalidObject", "%s object is invalid" % resource,
                   [{"code": code, "message": message, "resource": resource,
                     "field": field}])


def not_found(kind, ident):
    return CwError(404, "NotFound", "%s %s not found" % (kind, ident))


def bad_conditions(detail):
    return CwError(400, "BadRequest", "Invalid conditions: %s. %s." % (detail, COND_HELP))


# --------------------------------------------------------------------------------------
# A small validator for the OpenAPI subset: fast enough to run on every request (the
# tests use the real jsonschema package on the log instead, connectwise-api.md 15).

class SchemaDoc:
    def __init__(self, path):
        with open(path, encoding="utf-8") as f:
            self.doc = json.load(f)
        self.schemas = self.doc["components"]["schemas"]

    def deref(self, s):
        while "$ref" in s:
            s = self.schemas[s["$ref"].rsplit("/", 1)[1]]
        return s

    def props(self, name):
        return self.schemas[name].get("properties", {})

    def known_path(self, name, path):
        """The spelling of field path "a/b" in schema `name` (names match
        case-insensitively), or None when it is not a field.  One nested level through
        references; _info takes any key."""
        parts = path.split("/")
        s = self.schemas[name]
        out = []
        for i, part in enumerate(parts):
            s = self.deref(s)
            if s.get("type") == "object" and "additionalProperties" in s \
                    and "properties" not in s:
                return "/".join(out + parts[i:]) if i == len(parts) - 1 else None
            props = s.get("properties")
            if not props:
                return None
            hit = props.get(part)
            spelled = part
            if hit is None:
                low = part.lower()
                for k, v in props.items():
                    if k.lower() == low:
                        hit, spelled = v, k
                        break
            if hit is None:
                return None
            out.append(spelled)
            s = hit
        return "/".join(out)

    def check(self, schema, value, field, errs, strict_top=False):
        """Append (field, code, message) for each violation."""
        s = self.deref(schema)
        if value is None:
            if not s.get("nullable"):
                errs.append((field, "InvalidField", "The field %s cannot be null" % field))
            return
        t = s.get("type")
        ok = True
        if t == "integer":
            ok = isinstance(value, int) and not isinstance(value, bool)
            if ok and s.get("format") == "int32" and not -2**31 <= value < 2**31:
                errs.append((field, "OutOfRange", "The field %s must be between "
                             "-2147483648 and 2147483647" % field))
                return
        elif t == "number":
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        elif t == "string":
            ok = isinstance(value, str)
        elif t == "boolean":
            ok = isinstance(value, bool)
        elif t == "array":
            ok = isinstance(value, list)
        elif t == "object":
            ok = isinstance(value, dict)
        if not ok:
            errs.append((field, "InvalidField", "The field %s must be of type %s"
                         % (field, t)))
            return
        if "enum" in s and value not in s["enum"]:
            errs.append((field, "InvalidField", "The field %s must be one of: %s"
                         % (field, ", ".join(s["enum"]))))
            return
        fmt = s.get("format")
        if fmt == "date-time" and not ISO_Z_RE.match(value):
            errs.append((field, "InvalidField", "The field %s must be a UTC date-time "
                         "of the form yyyy-MM-ddTHH:mm:ssZ" % field))
            return
        if fmt == "date-time":
            try:
                parse_z(value)
            except ValueError:
                errs.append((field, "InvalidField", "The field %s is not a valid "
                             "date" % field))
                return
        if fmt == "uuid" and not UUID_RE.match(value):
            errs.append((field, "InvalidField", "The field %s must be a GUID" % field))
            return
        if t == "array":
            for i, item in enumerate(value):
                self.check(s.get("items", {}), item, "%s/%d" % (field, i), errs)
        elif t == "object":
            props = s.get("properties")
            addl = s.get("additionalProperties")
            for k, v in value.items():
                sub = "%s/%s" % (field, k) if field else k
                if props and k in props:
                    self.check(props[k], v, sub, errs)
                elif isinstance(addl, dict):
                    self.check(addl, v, sub, errs)
                elif strict_top and props is not None:
                    errs.append((sub, "InvalidField", "Unknown field %s" % sub))
            for r in s.get("required", ()):
                if r not in value:
                    sub = "%s/%s" % (field, r) if field else r
                    errs.append((sub, "MissingRequiredField",
                                 "%s is required." % sub))

    def validate(self, name, value, resource):
        """Raise CwError(400 InvalidObject) when value breaks schema `name`."""
        errs = []
        if not isinstance(value, dict):
            raise CwError(400, "InvalidObject", "%s object is invalid" % resource,
                          [{"code": "InvalidField", "resource": resource,
                            "message": "The request body must be a JSON object",
                            "field": ""}])
        self.check(self.schemas[name], value, "", errs, strict_top=True)
        if errs:
            raise CwError(400, "InvalidObject", "%s object is invalid" % resource,
                          [{"code": c, "message": m, "resource": resource, "field": f}
                           for f, c, m in errs])


# --------------------------------------------------------------------------------------
# Faults

FAULT_MODES = {
    "status", "500", "502", "503", "504", "429", "stall", "reset-before",
    "apply-then-reset", "slow-apply", "malformed", "html", "close", "auth404",
    "unauthorized", "guid=drop", "guid=nofilter", "guid=store",
}


class Fault:
    """One armed fault.  Fires on requests matching `match` (method and an fnmatch
    pattern on the path below the API base), `count` times (default 1), or forever with
    "always": true, or with `probability` from its own seeded random stream."""

    def __init__(self, fid, spec):
        if not isinstance(spec, dict):
            raise ValueError("a fault spec is a JSON object")
        mode = spec.get("mode")
        if mode not in FAULT_MODES:
            raise ValueError("unknown fault mode %r (known: %s)"
                             % (mode, ", ".join(sorted(FAULT_MODES))))
        self.id = fid
        self.spec = spec
        self.mode = mode
        match = spec.get("match") or {}
        if not isinstance(match, dict):
            raise ValueError("match must be an object")
        self.method = match.get("method")
        self.path = match.get("path")
        self.always = bool(spec.get("always"))
        self.count = spec.get("count", None if (self.always or "probability" in spec)
                              else 1)
        if self.count is not None and (not isinstance(self.count, int) or self.count < 1):
            raise ValueError("count must be a positive integer")
        self.probability = spec.get("probability")
        if self.probability is not None and not (
                isinstance(self.probability, (int, float)) and 0 <= self.probability <= 1):
            raise ValueError("probability must be a number in [0, 1]")
        self.rng = random.Random(spec.get("seed", 0))
        self.after = int(spec.get("after", 0))
        self.fired = 0
        self.seen = 0
        if mode == "status" and not isinstance(spec.get("status"), int):
            raise ValueError("mode status needs an integer status")

    def matches(self, method, relpath):
        if self.method and self.method.upper() != method:
            return False
        if self.path and not fnmatch.fnmatchcase(relpath, self.path):
            return False
        return True

    def try_fire(self):
        """Called for a matching request; True when the fault fires this time."""
        self.seen += 1
        if self.seen <= self.after:
            return False
        if self.probability is not None and self.rng.random() >= self.probability:
            return False
        self.fired += 1
        if self.count is not None:
            self.count -= 1
        return True

    def spent(self):
        return self.count is not None and self.count <= 0

    def describe(self):
        d = dict(self.spec)
        d.update({"id": self.id, "fired": self.fired, "seen": self.seen,
                  "remaining": self.count})
        return d


# --------------------------------------------------------------------------------------
# The application: state and every endpoint.  Pure request -> reply, no sockets.

class Reply:
    __slots__ = ("status", "body", "headers", "raw", "ctype")

    def __init__(self, status, body=None, headers=None, raw=None, ctype=None):
        self.status = status
        self.body = body
        self.headers = headers or {}
        self.raw = raw
        self.ctype = ctype


class App:
    def __init__(self, opts):
        self.opts = opts
        self.lock = threading.Lock()
        self.schema = SchemaDoc(SCHEMA_FILE)
        self.entry_fields = set(self.schema.props("TimeEntry"))
        self.log = []
        self.log_file = None
        if opts.log:
            self.log_file = open(opts.log, "a", encoding="utf-8")
        self.faults = []
        self.next_fault = 1
        self.stop_event = threading.Event()
        self.reset_state()

    # ---- state ------------------------------------------------------------------

    def reset_state(self):
        with open(self.opts.seed, encoding="utf-8") as f:
            seed = json.load(f)
        self.seed = seed
        self.config = {"guid": self.opts.guid, "api_member": seed.get("apiMember", "apiuser")}
        self.info = dict(seed.get("companyInfo") or {})
        self.info["CompanyID"] = self.opts.company
        if self.opts.codebase:
            self.info["Codebase"] = self.opts.codebase
        self.defaults = seed.get("defaults", {})
        self.members = {m["id"]: dict(m) for m in seed.get("members", [])}
        self.companies = {c["id"]: dict(c) for c in seed.get("companies", [])}
        self.work_types = {w["id"]: dict(w) for w in seed.get("workTypes", [])}
        self.work_roles = {w["id"]: dict(w) for w in seed.get("workRoles", [])}
        self.activities = {a["id"]: dict(a) for a in seed.get("activities", [])}
        self.charge_codes = {}
        for c in seed.get("chargeCodes", []):
            cc = dict(c)
            cc["company"] = self.company_ref(c["company"])
            if "workType" in c:
                cc["workType"] = self.ref_of(self.work_types, c["workType"])
            if "workRole" in c:
                cc["workRole"] = self.ref_of(self.work_roles, c["workRole"])
            self.charge_codes[cc["id"]] = cc
        self.service_tickets = {}
        for t in seed.get("serviceTickets", []):
            self.service_tickets[t["id"]] = {
                "id": t["id"], "summary": t["summary"],
                "company": self.company_ref(t["company"]),
                "board": {"id": 1, "name": t.get("board", "Help Desk")},
                "status": {"id": 1, "name": t.get("status", "New")},
                "type": {"id": 1, "name": t.get("type", "")},
                "subType": {"id": 1, "name": t.get("subType", "")},
                "recordType": "ServiceTicket"}
        self.project_tickets = {}
        for t in seed.get("projectTickets", []):
            self.project_tickets[t["id"]] = drop_nulls({
                "id": t["id"], "summary": t["summary"],
                "company": self.company_ref(t["company"]),
                "project": t.get("project"), "phase": t.get("phase"),
                "board": {"id": 2, "name": t.get("board", "Projects")},
                "status": {"id": 2, "name": t.get("status", "Open")},
                "recordType": "ProjectTicket"})
        self.sheets = {}
        self.entries = {}
        self.next_sheet = 900
        for s in seed.get("sheets", []):
            self.make_sheet(s["member"], datetime.date.fromisoformat(s["dateStart"]),
                            sid=s["id"], status=s.get("status", "Open"))
        self.next_entry = 1
        for e in seed.get("entries", []):
            ent = self.build_entry(e, seeding=True)
            ent["id"] = e["id"]
            self.entries[ent["id"]] = ent
        self.next_entry = max([1000] + list(self.entries)) + 1
        for s in self.sheets.values():
            self.sheet_hours(s)
            if s["id"] >= self.next_sheet:
                self.next_sheet = s["id"] + 1

    def company_ref(self, cid):
        c = self.companies[cid]
        return {"id": c["id"], "identifier": c["identifier"], "name": c["name"],
                "_info": {"company_href": "company/companies/%d" % c["id"]}}

    def member_ref(self, mid):
        m = self.members[mid]
        return {"id": m["id"], "identifier": m["identifier"], "name": m["name"],
                "dailyCapacity": m.get("dailyCapacity"),
                "_info": {"member_href": "system/members/%d" % m["id"]}}

    @staticmethod
    def ref_of(table, rid):
        r = table[rid]
        return {"id": r["id"], "name": r["name"]}

    # ---- time sheets --------------------------------------------------------------

    def make_sheet(self, member_id, monday, sid=None, status="Open"):
        if sid is None:
            sid = self.next_sheet
            self.next_sheet += 1
        sunday = monday + datetime.timedelta(days=6)
        year, week, _ = monday.isocalendar()
        sheet = {"id": sid, "member": self.member_ref(member_id), "year": year,
                 "period": week, "dateStart": monday.isoformat() + "T00:00:00Z",
                 "dateEnd": sunday.isoformat() + "T00:00:00Z", "status": status,
                 "hours": 0.0,
                 "deadline": (sunday + datetime.timedelta(days=2)).isoformat()
                 + "T00:00:00Z",
                 "_info": {"lastUpdated": fmt_dt(utcnow()),
                           "updatedBy": self.config["api_member"]}}
        sheet = drop_nulls(sheet)
        self.sheets[sid] = sheet
        return sheet

    def sheet_for(self, member_id, start_dt, create=True):
        """The member's weekly sheet holding start_dt, created when missing (with
        create=False a sheet that would be created is returned but not kept)."""
        monday = start_dt.date() - datetime.timedelta(days=start_dt.weekday())
        key = monday.isoformat() + "T00:00:00Z"
        for s in self.sheets.values():
            if s["member"]["id"] == member_id and s["dateStart"] == key:
                return s
        if not create:
            sheet = self.make_sheet(member_id, monday, sid=0)
            del self.sheets[0]
            return sheet
        return self.make_sheet(member_id, monday)

    def sheet_hours(self, sheet):
        sheet["hours"] = round(sum(e.get("actualHours") or 0 for e in self.entries.values()
                                   if e.get("timeSheet", {}).get("id") == sheet["id"]), 2)

    # ---- time entries: building and validating ------------------------------------

    def resolve(self, table, ref, key, kind, field, allow_inactive=True):
        """A reference given by id, or by `key` (identifier/name), to a seeded record."""
        if not isinstance(ref, dict):
            raise invalid("timeEntry", "InvalidField",
                          "The field %s must be an object" % field, field)
        rid = ref.get("id")
        if rid is not None:
            rec = table.get(rid)
            if rec is None:
                raise invalid("timeEntry", "NotFound", "%s %s not found" % (kind, rid),
                              field)
        elif ref.get(key) is not None:
            want = str(ref[key]).casefold()
            rec = next((r for r in table.values()
                        if str(r.get(key, "")).casefold() == want), None)
            if rec is None:
                raise invalid("timeEntry", "NotFound", "%s %s not found"
                              % (kind, ref[key]), field)
        else:
            raise invalid("timeEntry", "MissingRequiredField",
                          "%s id or %s is required." % (field, key), field)
        if not allow_inactive and rec.get("inactiveFlag"):
            raise invalid("timeEntry", "InvalidField", "%s %s is inactive"
                          % (kind, rec["name"]), field)
        return rec

    def build_entry(self, body, existing=None, seeding=False, put=False, dry=False):
        """Validate a TimeEntry body and return the stored form (server fields filled).
        Raises CwError.  `existing` keeps id, sheet and creation data on PUT/PATCH;
        `dry` (the defaults endpoint) changes no state at all."""
        R = "timeEntry"
        if not seeding:
            self.schema.validate("TimeEntry", body, R)
        e = {k: copy.deepcopy(v) for k, v in body.items()
             if k not in ENTRY_SERVER_OWNED and v is not None}
        if put and e.get("billableOption") is None:
            raise invalid(R, "MissingRequiredField", "billableOption is required.",
                          "billableOption")
        # who
        if "member" in e:
            member = self.resolve(self.members, e["member"], "identifier", "Member",
                                  "member")
        else:
            want = self.config["api_member"]
            member = next(m for m in self.members.values() if m["identifier"] == want)
        e["member"] = self.member_ref(member["id"])
        # target (section 14 row 2, row 3)
        ctype = e.get("chargeToType")
        cid = e.get("chargeToId")
        company = None
        if "company" in e:
            c = self.resolve(self.companies, e["company"], "identifier", "Company",
                             "company")
            company = c["id"]
        if ctype is None and cid is None:
            if company is None:
                raise invalid(R, "MissingRequiredField", "chargeToId is required.",
                              "chargeToId")
            ctype, cid = "Company", company
        elif ctype is None:
            raise invalid(R, "MissingRequiredField", "chargeToType is required.",
                          "chargeToType")
        elif cid is None:
            if ctype == "Company" and company is not None:
                cid = company
            else:
                raise invalid(R, "MissingRequiredField", "chargeToId is required.",
                              "chargeToId")
        default_wt = default_wr = None
        bill_default = None
        for k in ("project", "phase"):   # derived from the target below
            e.pop(k, None)
        if ctype == "ServiceTicket" or ctype == "ProjectTicket":
            table = self.service_tickets if ctype == "ServiceTicket" else self.project_tickets
            t = table.get(cid)
            if t is None:
                raise invalid(R, "NotFound", "Ticket %d not found" % cid, "chargeToId")
            company = t["company"]["id"]
            e["ticket"] = {"id": t["id"], "summary": t["summary"],
                           "_info": {"ticket_href": "service/tickets/%d" % t["id"]}}
            e["ticketBoard"] = t["board"]["name"]
            e["ticketStatus"] = t["status"]["name"]
            if ctype == "ProjectTicket":
                if t.get("project"):
                    e["project"] = dict(t["project"])
                if t.get("phase"):
                    e["phase"] = dict(t["phase"])
            else:
                e["ticketType"] = t["type"]["name"]
                e["ticketSubType"] = t["subType"]["name"]
        elif ctype == "ChargeCode":
            cc = self.charge_codes.get(cid)
            if cc is None:
                raise invalid(R, "NotFound", "Charge code %d not found" % cid,
                              "chargeToId")
            if company is None:
                company = cc["company"]["id"]
            default_wt = (cc.get("workType") or {}).get("id")
            default_wr = (cc.get("workRole") or {}).get("id")
            if cc.get("billTime") not in (None, "NoDefault"):
                bill_default = cc["billTime"]
        elif ctype == "Activity":
            a = self.activities.get(cid)
            if a is None:
                raise invalid(R, "NotFound", "Activity %d not found" % cid, "chargeToId")
            company = a["company"]
            e["activity"] = {"id": a["id"], "name": a["name"]}
        elif ctype == "Company":
            if cid not in self.companies:
                raise invalid(R, "NotFound", "Company %d not found" % cid, "chargeToId")
            company = cid
        e["chargeToType"], e["chargeToId"] = ctype, cid
        e["company"] = self.company_ref(company)
        e["companyType"] = "Client"
        # work type, role, billing (row 14)
        wt = self.resolve(self.work_types, e["workType"], "name", "Work type", "workType",
                          allow_inactive=seeding) if "workType" in e else \
            self.work_types[default_wt or self.defaults.get("workType", 1)]
        wr = self.resolve(self.work_roles, e["workRole"], "name", "Work role", "workRole",
                          allow_inactive=seeding) if "workRole" in e else \
            self.work_roles[default_wr or self.defaults.get("workRole", 1)]
        e["workType"] = {"id": wt["id"], "name": wt["name"],
                         "utilizationFlag": wt.get("utilizationFlag"),
                         "_info": {"workType_href": "time/workTypes/%d" % wt["id"]}}
        e["workRole"] = {"id": wr["id"], "name": wr["name"],
                         "_info": {"workRole_href": "time/workRoles/%d" % wr["id"]}}
        if e.get("billableOption") is None:
            e["billableOption"] = bill_default or wt.get("billTime") or \
                self.defaults.get("billableOption", "Billable")
        rate = float(wr.get("hourlyRate") or 0)
        if wt.get("rateType") == "Multiplier":
            rate *= float(wt.get("rate") or 0)
        elif wt.get("rateType") == "AdjAmount":
            rate += float(wt.get("rate") or 0)
        elif wt.get("rateType") == "Custom":
            rate = float(wt.get("rate") or 0)
        if existing is None or "hourlyRate" not in body:
            e["hourlyRate"] = round(rate, 2) if existing is None else \
                existing.get("hourlyRate", round(rate, 2))
        for k in ("location", "department"):
            if k not in e and self.defaults.get(k):
                e[k] = dict(self.defaults[k])
        e.setdefault("locationId", (self.defaults.get("location") or {}).get("id"))
        e.setdefault("businessUnitId", (self.defaults.get("department") or {}).get("id"))
        # times (row 8, row 9)
        if "timeStart" not in e:
            raise invalid(R, "MissingRequiredField", "timeStart is required.", "timeStart")
        start = parse_z(e["timeStart"])
        deduct = e.get("hoursDeduct") or 0.0
        if deduct < 0:
            raise invalid(R, "OutOfRange", "The field hoursDeduct must be between 0 and "
                          "24", "hoursDeduct")
        actual = e.get("actualHours")
        if "timeEnd" in e:
            end = parse_z(e["timeEnd"])
            if end <= start:
                raise invalid(R, "OutOfRange", "timeEnd must be after timeStart",
                              "timeEnd")
            span = (end - start).total_seconds() / 3600.0
            if actual is None:
                actual = round(span - deduct, 2)
                if actual <= 0:
                    raise invalid(R, "OutOfRange", "hoursDeduct must be less than the "
                                  "time between timeStart and timeEnd", "hoursDeduct")
            elif abs(actual - (span - deduct)) > 0.01:
                raise invalid(R, "OutOfRange",
                              "actualHours (%s) must equal timeEnd - timeStart - "
                              "hoursDeduct (%.2f)" % (actual, span - deduct),
                              "actualHours")
        else:
            if actual is None:
                raise invalid(R, "MissingRequiredField",
                              "timeEnd is required when actualHours is not given.",
                              "timeEnd")
            if actual <= 0 or actual > 24:
                raise invalid(R, "OutOfRange", "The field actualHours must be between "
                              "0 and 24", "actualHours")
            end = start + datetime.timedelta(seconds=round((actual + deduct) * 3600))
            e["timeEnd"] = fmt_dt(end)
        e["actualHours"] = actual
        # correlation id (row 11)
        if self.config["guid"] == "drop" and not seeding:
            e.pop("mobileGuid", None)
        # sheet placement (rows 16, 17)
        sheet = self.sheet_for(member["id"], start, create=not dry)
        if not seeding and sheet["status"] not in OPEN_SHEET and (
                existing is None or existing["timeSheet"]["id"] != sheet["id"]):
            raise CwError(400, "InvalidObject", "time sheet is not open",
                          [{"code": "InvalidField", "resource": R, "field": "timeStart",
                            "message": "time sheet %d is %s" % (sheet["id"],
                                                               sheet["status"])}])
        e["timeSheet"] = {"id": sheet["id"], "name": "%s to %s" % (
            sheet["dateStart"][:10], sheet["dateEnd"][:10]),
            "_info": {"timeSheet_href": "time/sheets/%d" % sheet["id"]}}
        e["status"] = sheet["status"]
        now = fmt_dt(utcnow())
        if existing is not None:
            e["id"] = existing["id"]
            e["dateEntered"] = existing.get("dateEntered", now)
            e["enteredBy"] = existing.get("enteredBy", self.config["api_member"])
        else:
            e["dateEntered"] = now
            e["enteredBy"] = self.config["api_member"]
        e["_info"] = {"lastUpdated": now, "updatedBy": self.config["api_member"],
                      "dateEntered": e["dateEntered"], "enteredBy": e["enteredBy"]}
        # stored records hold no nulls, so replies need no clean-up pass
        return drop_nulls(e)

    def entry_editable(self, ent):
        if ent.get("status") in BILLED:
            raise CwError(400, "InvalidObject", "timeEntry object is invalid",
                          [{"code": "InvalidField", "resource": "timeEntry",
                            "field": "status",
                            "message": "A billed time entry cannot be changed or "
                                       "deleted"}])
        sheet = self.sheets.get(ent.get("timeSheet", {}).get("id"))
        if sheet is not None and sheet["status"] not in OPEN_SHEET:
            raise CwError(400, "InvalidObject", "time sheet is not open",
                          [{"code": "InvalidField", "resource": "timeEntry",
                            "field": "timeSheet",
                            "message": "time sheet %d is %s" % (sheet["id"],
                                                               sheet["status"])}])

    def add_hours(self, ent, sign):
        sheet = self.sheets.get(ent.get("timeSheet", {}).get("id"))
        if sheet is not None:
            sheet["hours"] = round(sheet["hours"] + sign * (ent.get("actualHours") or 0), 2)

    def store(self, ent):
        """Insert or replace an entry, keeping its sheet's hours current (O(1): a
        benchmark stores thousands)."""
        old = self.entries.get(ent["id"])
        if old is not None:
            self.add_hours(old, -1)
        self.entries[ent["id"]] = ent
        self.add_hours(ent, +1)

    def unstore(self, ent):
        del self.entries[ent["id"]]
        self.add_hours(ent, -1)

    # ---- queries --------------------------------------------------------------------

    def filter_rows(self, rows, schema_name, q):
        """Apply conditions (and refuse childConditions/customFieldConditions)."""
        for bad in ("childConditions", "customFieldConditions"):
            if q.get(bad):
                raise CwError(400, "BadRequest", "%s are not supported by this server "
                              "(cwtimed must not use them)" % bad)
        cond = q.get("conditions")
        if not cond:
            return rows
        try:
            ast = conditions.parse(cond)
        except conditions.ConditionError as ex:
            raise bad_conditions(str(ex))
        spelled = {}
        for f in conditions.fields_of(ast):
            spelled[f] = self.schema.known_path(schema_name, f) if schema_name else f
            if spelled[f] is None:
                raise bad_conditions("unknown field '%s'" % f)
            if schema_name == "TimeEntry" and f.lower() == "mobileguid" and \
                    self.config["guid"] == "nofilter":
                raise bad_conditions("mobileGuid cannot be used in conditions")
        pred = conditions.compile_ast(ast, canon=spelled.get)
        return [r for r in rows if pred(r)]

    def query_rows(self, rows, schema_name, q, headers, base_url, relpath):
        """Apply conditions, orderBy, paging and fields.  Returns (rows, link)."""
        rows = self.filter_rows(rows, schema_name, q)
        forward = headers.get("pagination-type", "").lower() == "forward-only"
        order = q.get("orderBy")
        if order and forward:
            raise CwError(400, "BadRequest", "orderBy is not allowed with forward-only "
                          "pagination")
        rows = sorted(rows, key=lambda r: r.get("id") or 0)
        if order:
            for part in reversed([p.strip() for p in order.split(",") if p.strip()]):
                bits = part.split()
                if len(bits) > 2 or (len(bits) == 2 and bits[1].lower() not in
                                     ("asc", "desc")):
                    raise CwError(400, "BadRequest", "Invalid orderBy: %s" % part)
                if schema_name and self.schema.known_path(schema_name, bits[0]) is None:
                    raise CwError(400, "BadRequest", "Invalid orderBy: unknown field "
                                  "'%s'" % bits[0])
                desc = len(bits) == 2 and bits[1].lower() == "desc"
                rows.sort(key=lambda r, f=bits[0]: sort_key(
                    conditions.resolve_path(r, f)), reverse=desc)
        page_size = int_param(q, "pageSize", 25)
        if page_size < 1:
            raise CwError(400, "BadRequest", "pageSize must be at least 1")
        page_size = min(page_size, 1000)
        link = None
        if forward:
            page_id = int_param(q, "pageId", 0)
            rows = [r for r in rows if (r.get("id") or 0) > page_id][:page_size]
            if len(rows) == page_size:
                link = '<%s>; rel="next"' % page_url(base_url, relpath, q,
                                                     pageId=rows[-1]["id"])
        else:
            page = int_param(q, "page", 1)
            if page < 1:
                raise CwError(400, "BadRequest", "page must be at least 1")
            last = max(1, (len(rows) + page_size - 1) // page_size)
            links = ['<%s>; rel="first"' % page_url(base_url, relpath, q, page=1)]
            if page > 1:
                links.append('<%s>; rel="prev"' % page_url(base_url, relpath, q,
                                                           page=min(page - 1, last)))
            if page < last:
                links.append('<%s>; rel="next"' % page_url(base_url, relpath, q,
                                                           page=page + 1))
            links.append('<%s>; rel="last"' % page_url(base_url, relpath, q, page=last))
            link = ", ".join(links)
            rows = rows[(page - 1) * page_size:page * page_size]
        return [select_fields(r, q.get("fields")) for r in rows], link

    def count_rows(self, rows, schema_name, q):
        """/count: the conditions apply, paging does not."""
        return len(self.filter_rows(rows, schema_name, q))

    # ---- dispatch -------------------------------------------------------------------

    def check_auth(self, headers):
        """None when the credentials are right, else the CwError to send."""
        want = "%s+%s:%s" % (self.opts.company, self.opts.public_key,
                             self.opts.private_key)
        auth = headers.get("authorization", "")
        ok = False
        if auth[:6].lower() == "basic ":
            try:
                ok = base64.b64decode(auth[6:].strip(), validate=True).decode(
                    "utf-8") == want
            except (ValueError, UnicodeDecodeError):
                ok = False
        if not ok:
            return CwError(401, "Unauthorized", "Authentication failed.")
        cid = headers.get("clientid")
        if not cid or (self.opts.client_id and cid != self.opts.client_id):
            return CwError(401, "Unauthorized", "clientId is missing or invalid.")
        return None

    def handle(self, method, path, q, headers, body, base_url, auth_fault):
        """One API request -> Reply.  Raises nothing but CwError (caught here)."""
        try:
            return self._handle(method, path, q, headers, body, base_url, auth_fault)
        except CwError as ex:
            return error_reply(ex)

    def _handle(self, method, path, q, headers, body, base_url, auth_fault):
        m = re.match(r"^/login/companyinfo/([^/]+)/?$", path)
        if m:
            if method != "GET":
                raise CwError(405, "MethodNotAllowed", "The requested resource does not "
                              "support http method '%s'." % method)
            if urllib.parse.unquote(m.group(1)).lower() == self.opts.company.lower():
                return Reply(200, self.info)
            return Reply(200, None, raw=b"null")
        m = API_RE.match(path)
        if not m:
            raise CwError(404, "NotFound", "The resource %s was not found" % path)
        rel = m.group(2) or "/"
        err = self.check_auth(headers)
        if auth_fault == "unauthorized":
            err = CwError(401, "Unauthorized", "Authentication failed.")
        elif auth_fault == "auth404":
            # the cloud caveat: bad credentials look like a wrong URL (row 5)
            err = CwError(404, "NotFound", "The resource %s was not found" % rel)
        if err is not None:
            raise err
        return self.route(method, rel, q, headers, body, base_url)

    def route(self, method, rel, q, headers, body, base_url):
        parts = [p for p in rel.split("/") if p]
        if len(parts) >= 2 and parts[0] == "time" and parts[1] == "entries":
            return self.entries_ep(method, parts[2:], q, headers, body, base_url, rel)
        if len(parts) >= 2 and parts[0] == "time" and parts[1] == "sheets":
            return self.sheets_ep(method, parts[2:], q, headers, body, base_url, rel)
        simple = {
            ("time", "workTypes"): (self.work_types, "WorkType", "workType", True),
            ("time", "workRoles"): (self.work_roles, "WorkRole", "workRole", True),
            ("time", "chargeCodes"): (self.charge_codes, "ChargeCode", "chargeCode", True),
            ("service", "tickets"): (self.service_tickets, None, "Ticket", False),
            ("project", "tickets"): (self.project_tickets, None, "Ticket", False),
            ("system", "members"): (self.members, None, "Member", False),
            ("company", "companies"): (self.companies, None, "Company", False),
        }
        if len(parts) >= 2 and (parts[0], parts[1]) in simple:
            table, schema_name, res, writable = simple[(parts[0], parts[1])]
            return self.simple_ep(method, parts[2:], q, headers, body, base_url, rel,
                                  table, schema_name, res, writable)
        raise CwError(404, "NotFound", "The resource %s was not found" % rel)

    def sub_id(self, tail, what):
        try:
            v = int(tail)
        except ValueError:
            raise CwError(404, "NotFound", "%s %s not found" % (what, tail))
        return v

    def entries_ep(self, method, tail, q, headers, body, base_url, rel):
        if not tail:
            if method == "GET":
                rows, link = self.query_rows(list(self.entries.values()), "TimeEntry", q,
                                             headers, base_url, rel)
                return Reply(200, rows, {"Link": link} if link else {})
            if method == "POST":
                ent = dict(id=self.next_entry, **self.build_entry(need_body(body)))
                self.next_entry += 1
                self.store(ent)
                return Reply(201, ent)
            raise method_not_allowed(method)
        if tail == ["count"]:
            if method != "GET":
                raise method_not_allowed(method)
            return Reply(200, {"count": self.count_rows(list(self.entries.values()),
                                                        "TimeEntry", q)})
        if tail == ["defaults"]:
            if method != "POST":
                raise method_not_allowed(method)
            ent = dict(id=0, **self.build_entry(need_body(body), dry=True))
            return Reply(200, ent)
        if len(tail) != 1:
            raise CwError(404, "NotFound", "The resource %s was not found" % rel)
        eid = self.sub_id(tail[0], "TimeEntry")
        ent = self.entries.get(eid)
        if ent is None:
            raise not_found("TimeEntry", eid)
        if method == "GET":
            return Reply(200, select_fields(ent, q.get("fields")))
        if method == "PUT":
            self.entry_editable(ent)
            new = self.build_entry(need_body(body), existing=ent, put=True)
            self.store(new)
            return Reply(200, new)
        if method == "PATCH":
            self.entry_editable(ent)
            try:
                patched, ignored = jsonpatch.apply(ent, need_body(body, list),
                                                   self.entry_fields, ENTRY_SERVER_OWNED)
            except jsonpatch.PatchError as ex:
                raise CwError(400, "InvalidObject", "timeEntry object is invalid",
                              [{"code": ex.code, "message": str(ex),
                                "resource": "timeEntry", "field": ex.field or ""}])
            for k in ENTRY_SERVER_OWNED:
                patched.pop(k, None)
            # keep the three times consistent the way the UI does: a changed start,
            # end or deduction recomputes actualHours, a changed actualHours alone
            # moves timeEnd
            touched = {str(op.get("path", "")).lstrip("/") for op in body}
            if touched & {"timeStart", "timeEnd", "hoursDeduct"} and \
                    "actualHours" not in touched:
                patched.pop("actualHours", None)
            elif "actualHours" in touched and "timeEnd" not in touched:
                patched.pop("timeEnd", None)
            # the result must still be a valid entry: re-validate it like a PUT
            new = self.build_entry(patched, existing=ent)
            self.store(new)
            # a sub-path such as workType/id changes nothing but still gets a 200
            # (connectwise-api.md 7); the header lets a test see it happened
            return Reply(200, new, {"X-Fake-Ignored-Patch": ",".join(ignored)
                                    if ignored else None})
        if method == "DELETE":
            self.entry_editable(ent)
            self.unstore(ent)
            return Reply(204)
        raise method_not_allowed(method)

    def sheets_ep(self, method, tail, q, headers, body, base_url, rel):
        if not tail:
            if method == "GET":
                rows, link = self.query_rows(list(self.sheets.values()), "TimeSheet", q,
                                             headers, base_url, rel)
                return Reply(200, rows, {"Link": link} if link else {})
            raise method_not_allowed(method)
        if tail == ["count"]:
            if method != "GET":
                raise method_not_allowed(method)
            return Reply(200, {"count": self.count_rows(list(self.sheets.values()),
                                                        "TimeSheet", q)})
        sid = self.sub_id(tail[0], "TimeSheet")
        sheet = self.sheets.get(sid)
        if sheet is None:
            raise not_found("TimeSheet", sid)
        if len(tail) == 1:
            if method == "GET":
                return Reply(200, select_fields(sheet, q.get("fields")))
            if method == "DELETE":
                if sheet["status"] not in OPEN_SHEET or any(
                        e["timeSheet"]["id"] == sid for e in self.entries.values()):
                    raise CwError(400, "InvalidObject", "timeSheet object is invalid",
                                  [{"code": "InvalidField", "resource": "timeSheet",
                                    "field": "id", "message": "only an open time sheet "
                                    "without entries can be deleted"}])
                del self.sheets[sid]
                return Reply(204)
            raise method_not_allowed(method)
        if len(tail) != 2 or tail[1] not in ("submit", "approve", "reject", "reverse"):
            raise CwError(404, "NotFound", "The resource %s was not found" % rel)
        if method != "POST":
            raise method_not_allowed(method)
        action = tail[1]
        cur = sheet["status"]
        new = None
        if action == "submit" and cur in OPEN_SHEET:
            new = "PendingApproval"
        elif action == "approve":
            tier = None
            if body is not None:
                self.schema.validate("TimeSheetTierUpdate", body, "timeSheetTierUpdate")
                tier = body.get("approvalType")
            if tier is None:
                tier = "Tier2Update" if cur == "ApprovedByTierOne" else "Tier1Update"
            if tier == "Tier1Update" and cur == "PendingApproval":
                new = "ApprovedByTierOne"
            elif tier == "Tier2Update" and cur == "ApprovedByTierOne":
                new = "ApprovedByTierTwo"
        elif action == "reject" and cur in ("PendingApproval", "ApprovedByTierOne"):
            new = "Rejected"
        elif action == "reverse" and cur in ("PendingApproval", "ApprovedByTierOne",
                                             "ApprovedByTierTwo"):
            new = "Open"
        if new is None:
            raise CwError(400, "InvalidObject", "timeSheet object is invalid",
                          [{"code": "InvalidField", "resource": "timeSheet",
                            "field": "status", "message": "cannot %s a time sheet that "
                            "is %s" % (action, cur)}])
        sheet["status"] = new
        sheet["_info"]["lastUpdated"] = fmt_dt(utcnow())
        for e in self.entries.values():
            if e["timeSheet"]["id"] == sid:
                e["status"] = new
        return Reply(200, {"success": True, "message": ""})

    def simple_ep(self, method, tail, q, headers, body, base_url, rel, table,
                  schema_name, res, writable):
        if not tail:
            if method == "GET":
                rows, link = self.query_rows(list(table.values()), schema_name, q,
                                             headers, base_url, rel)
                return Reply(200, rows, {"Link": link} if link else {})
            if method == "POST" and writable:
                obj = need_body(body)
                self.schema.validate(schema_name, obj, res)
                obj = {k: v for k, v in obj.items() if v is not None}
                obj["id"] = max([0] + list(table)) + 1
                table[obj["id"]] = obj
                return Reply(201, obj)
            raise method_not_allowed(method)
        if tail == ["count"]:
            if method != "GET":
                raise method_not_allowed(method)
            return Reply(200, {"count": self.count_rows(list(table.values()), schema_name,
                                                        q)})
        if len(tail) != 1:
            raise CwError(404, "NotFound", "The resource %s was not found" % rel)
        rid = self.sub_id(tail[0], res)
        obj = table.get(rid)
        if obj is None:
            raise not_found(res[0].upper() + res[1:], rid)
        if method == "GET":
            return Reply(200, select_fields(obj, q.get("fields")))
        if not writable:
            raise method_not_allowed(method)
        if method == "PUT":
            new = need_body(body)
            self.schema.validate(schema_name, new, res)
            new = {k: v for k, v in new.items() if v is not None}
            new["id"] = rid
            table[rid] = new
            return Reply(200, new)
        if method == "PATCH":
            try:
                new, _ = jsonpatch.apply(obj, need_body(body, list),
                                         set(self.schema.props(schema_name)), ("id",))
            except jsonpatch.PatchError as ex:
                raise CwError(400, "InvalidObject", "%s object is invalid" % res,
                              [{"code": ex.code, "message": str(ex), "resource": res,
                                "field": ex.field or ""}])
            self.schema.validate(schema_name, new, res)
            table[rid] = new
            return Reply(200, new)
        if method == "DELETE":
            del table[rid]
            return Reply(204)
        raise method_not_allowed(method)

    # ---- faults and log -----------------------------------------------------------

    def pick_fault(self, method, relpath, auth_phase, auth_bad=False):
        """The first armed fault matching this request that fires, or None.  Auth faults
        (auth404, unauthorized) are picked separately in the auth phase; auth404 only
        counts requests whose credentials are bad, unless it has "force": true."""
        for f in list(self.faults):
            is_auth = f.mode in ("auth404", "unauthorized")
            if is_auth != auth_phase:
                continue
            if f.mode == "auth404" and not auth_bad and not f.spec.get("force"):
                continue
            if not f.matches(method, relpath):
                continue
            if f.try_fire():
                if f.spent():
                    self.faults.remove(f)
                return f
        return None

    def add_fault(self, spec):
        f = Fault(self.next_fault, spec)
        if f.mode.startswith("guid="):
            self.config["guid"] = f.mode.split("=", 1)[1]
            return {"id": None, "config": dict(self.config)}
        self.next_fault += 1
        self.faults.append(f)
        return {"id": f.id}

    def record(self, rec, response_json=None):
        """Append to the request log.  Kept serialised: the reply objects it names
        may change later (a sheet action changes entries' status).
        response_json: the reply body already serialised (the bytes sent),
        spliced in as "response" instead of serialising it a second time."""
        rec["seq"] = len(self.log) + 1
        line = json.dumps(rec, separators=(",", ":"))
        if response_json is not None:
            line = line[:-1] + ',"response":' + response_json + "}"
        self.log.append(line)
        if self.log_file is not None:
            self.log_file.write(line + "\n")
            self.log_file.flush()


def error_reply(ex):
    """ConnectWise's error envelope keeps "errors": null (nulls are not dropped)."""
    body = ex.body()
    return Reply(ex.status, body, ex.headers,
                 raw=json.dumps(body, separators=(",", ":")).encode("utf-8"))


def method_not_allowed(method):
    return CwError(405, "MethodNotAllowed", "The requested resource does not support http "
                   "method '%s'." % method)


def need_body(body, kind=dict):
    if body is None:
        raise CwError(400, "InvalidObject", "The request body is missing",
                      [{"code": "MissingRequiredField", "message": "a JSON body is "
                        "required", "resource": "request", "field": ""}])
    if not isinstance(body, kind):
        raise CwError(400, "InvalidObject", "The request body must be a JSON %s"
                      % ("array" if kind is list else "object"))
    return body


def int_param(q, name, default):
    v = q.get(name)
    if v is None or v == "":
        return default
    try:
        return int(v)
    except ValueError:
        raise CwError(400, "BadRequest", "%s must be an integer" % name)


def sort_key(v):
    if v is None:
        return (0, 0)
    if isinstance(v, bool):
        return (1, int(v))
    if isinstance(v, (int, float)):
        return (2, v)
    if isinstance(v, str):
        return (3, v.casefold())
    return (4, json.dumps(v, sort_keys=True))


def select_fields(rec, fields):
    """Partial reply: top-level names and one nested level (member/identifier)."""
    if not fields:
        return rec
    out = {}
    for f in (x.strip() for x in fields.split(",")):
        if not f:
            continue
        if "/" in f:
            top, sub = f.split("/", 1)
            v = rec.get(top)
            if isinstance(v, dict) and sub in v:
                out.setdefault(top, {})[sub] = v[sub]
        elif f in rec:
            out[f] = rec[f]
    return out


def page_url(base_url, relpath, q, **over):
    params = {k: v for k, v in q.items() if k not in over}
    if "pageId" in over:
        params.pop("page", None)
    params.update({k: str(v) for k, v in over.items()})
    return "%s%s?%s" % (base_url, relpath, urllib.parse.urlencode(
        params, quote_via=urllib.parse.quote, safe=""))


# --------------------------------------------------------------------------------------
# HTTP

class HeaderDict(dict):
    """Request headers by lower-case name; get() takes any case."""

    def __setitem__(self, key, value):
        dict.__setitem__(self, key.lower(), value)

    def get(self, key, default=None):
        return dict.get(self, key.lower(), default)


LOG_HEADERS = ("Authorization", "clientId", "Accept", "Content-Type", "pagination-type")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Microsoft-IIS/10.0"
    sys_version = ""

    def setup(self):
        if isinstance(self.request, ssl.SSLSocket):
            # the TLS handshake runs here, in the connection's own thread
            self.request.settimeout(10)
            self.request.do_handshake()
            self.request.settimeout(None)
        super().setup()
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        self.dead = False

    def finish(self):
        try:
            super().finish()
        except OSError:
            pass

    def handle_one_request(self):
        """Read one request and answer it.  Replaces the standard library's parser,
        whose email-based header parsing was most of the fake's time per request."""
        try:
            line = self.rfile.readline(65537)
            if not line:
                self.close_connection = True
                return
            if len(line) > 65536 or not line.endswith(b"\n"):
                self.request_version = "HTTP/1.1"
                self.command = ""
                self.send_raw(414, None, b"", close=True)
                return
            self.raw_requestline = line
            parts = line.decode("latin-1").split()
            if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
                self.command = ""
                self.send_raw(400, None, b"", close=True)
                return
            self.command, self.path, self.request_version = parts
            headers = HeaderDict()
            for _ in range(200):
                h = self.rfile.readline(65537)
                if h in (b"\r\n", b"\n", b""):
                    break
                name, sep, value = h.decode("latin-1").partition(":")
                if not sep:
                    self.send_raw(400, None, b"", close=True)
                    return
                headers[name.strip()] = value.strip()
            else:
                self.send_raw(431, None, b"", close=True)
                return
            self.headers = headers
            conn = headers.get("Connection", "").lower()
            self.close_connection = conn == "close" or (
                self.request_version == "HTTP/1.0" and conn != "keep-alive")
            if headers.get("Expect", "").lower() == "100-continue":
                self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            self.dispatch()
        except (ssl.SSLError, ConnectionError, socket.timeout, ValueError):
            self.close_connection = True

    def log_message(self, fmt, *args):
        if self.server.app.opts.verbose:
            sys.stderr.write("fakecw: %s\n" % (fmt % args))

    def do_GET(self):
        self.dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    # ---- low-level output ---------------------------------------------------------

    def send_raw(self, status, ctype, payload, extra=None, close=False):
        lines = ["HTTP/1.1 %d %s" % (status, REASONS.get(status, "Status"))]
        lines.append("Date: %s" % email.utils.formatdate(usegmt=True))
        lines.append("Server: %s" % self.server_version)
        if status != 204:
            if ctype:
                lines.append("Content-Type: %s" % ctype)
            lines.append("Content-Length: %d" % len(payload))
        lines.append("api-current-version: %s" % MODEL_VERSION)
        for k, v in (extra or {}).items():
            if v is not None:
                lines.append("%s: %s" % (k, v))
        if close or self.close_connection:
            lines.append("Connection: close")
            self.close_connection = True
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        if self.command == "HEAD" or status == 204:
            payload = b""
        try:
            self.wfile.write(head + payload)
        except OSError:
            self.close_connection = True

    def reset_connection(self):
        """Abort with a TCP RST: the client sees ECONNRESET, no reply bytes."""
        self.close_connection = True
        self.dead = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
        except OSError:
            pass
        try:
            self.rfile.close()
        except OSError:
            pass
        try:
            sock = self.connection
            if isinstance(sock, ssl.SSLSocket):
                # skip the TLS close_notify: the peer must see a reset
                os.close(sock.detach())
            else:
                sock.close()
        except OSError:
            pass

    def drop_connection(self):
        """Close without a reply (FIN)."""
        self.close_connection = True
        self.dead = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def json_reply(self, reply):
        if reply.raw is not None:
            return reply.raw, reply.ctype or "application/json; charset=utf-8"
        if reply.status == 204:
            return b"", None
        return (json.dumps(reply.body, separators=(",", ":")).encode("utf-8"),
                reply.ctype or "application/json; charset=utf-8")

    # ---- input --------------------------------------------------------------------

    def read_body(self):
        te = self.headers.get("Transfer-Encoding", "")
        if te.lower() == "chunked":
            data = b""
            while True:
                line = self.rfile.readline(1024)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline(8)
                if len(data) > MAX_BODY:
                    raise ValueError("body too large")
        n = int(self.headers.get("Content-Length") or 0)
        if n > MAX_BODY:
            raise ValueError("body too large")
        return self.rfile.read(n) if n > 0 else b""

    # ---- the request ----------------------------------------------------------------

    def dispatch(self):
        app = self.server.app
        url = urllib.parse.urlsplit(self.path)
        path = url.path
        # `+` in a query means a space on ConnectWise (connectwise-api.md 5)
        q = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        hdrs = {k.lower(): v for k, v in self.headers.items()}
        try:
            raw = self.read_body()
        except ValueError:
            self.send_raw(413, "application/json; charset=utf-8",
                          b'{"code":"BadRequest","message":"body too large","errors":null}',
                          close=True)
            return
        if path.startswith("/__fake/"):
            self.control(path, q, raw)
            return
        body = None
        body_err = None
        if raw:
            ctype = hdrs.get("content-type", "")
            try:
                body = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                body_err = CwError(400, "BadRequest", "The request body is not valid JSON.")
            if body_err is None and not ctype.lower().startswith("application/json"):
                body_err = CwError(415, "UnsupportedMediaType", "The request entity's "
                                   "media type '%s' is not supported for this resource."
                                   % ctype)
        m = API_RE.match(path)
        relpath = (m.group(2) or "/") if m else path
        scheme = "https" if app.opts.https else "http"
        base_url = "%s://%s%s" % (scheme, hdrs.get("host", "127.0.0.1"),
                                  path[:len(path) - len(relpath)] if m else "")
        rec = {"time": fmt_dt(utcnow()), "method": self.command, "path": path,
               "relpath": relpath, "query": q,
               "headers": {h: self.headers.get(h) for h in LOG_HEADERS
                           if self.headers.get(h) is not None},
               "body": body if body_err is None else None,
               "fault": None}
        if raw and body_err is not None:
            rec["body_raw"] = raw[:4096].decode("utf-8", "replace")
        if self.headers.get("X-Fakecw-Tag"):
            rec["tag"] = self.headers.get("X-Fakecw-Tag")
        if app.opts.redact and "Authorization" in rec["headers"]:
            rec["headers"]["Authorization"] = "Basic <redacted>"
        if self.command == "POST" and relpath == "/time/entries" and isinstance(body, dict):
            sent = [k for k in ENTRY_SERVER_OWNED if k in body]
            if sent:
                rec["server_owned_sent"] = sent
        with app.lock:
            fault = app.pick_fault(self.command, relpath, auth_phase=False)
        if fault is not None:
            rec["fault"] = fault.mode
        mode = fault.mode if fault else None
        # these modes act on the real reply, so the request is always carried out;
        # the others carry it out only with "apply": true
        apply_first = bool(fault) and (mode in ("apply-then-reset", "malformed",
                                                "slow-apply", "close")
                                       or (mode != "reset-before" and
                                           bool(fault.spec.get("apply", False))))
        # faults that answer instead of the server
        if fault is not None and not apply_first:
            if mode == "reset-before":
                self.finish_log(rec, None, None, "reset")
                self.reset_connection()
                return
            if mode == "stall":
                self.finish_log(rec, None, None, "stall")
                app.stop_event.wait(float(fault.spec.get("seconds", 30)))
                self.drop_connection()
                return
            if self.fault_reply(fault, rec):
                return
        if mode == "slow-apply":
            app.stop_event.wait(float(fault.spec.get("seconds", 2)))
        with app.lock:
            auth_bad = app.check_auth(hdrs) is not None
            auth_fault = app.pick_fault(self.command, relpath, auth_phase=True,
                                        auth_bad=auth_bad) if m else None
            if auth_fault is not None:
                rec["fault"] = (rec["fault"] + "," if rec["fault"] else "") + \
                    auth_fault.mode
            if body_err is not None and m and not auth_bad and auth_fault is None:
                reply = error_reply(body_err)
            else:
                reply = app.handle(self.command, path, q, hdrs, body, base_url,
                                   auth_fault.mode if auth_fault else None)
        payload, ctype = self.json_reply(reply)
        if fault is not None and apply_first:
            if mode == "apply-then-reset":
                self.finish_log(rec, reply, payload, "reset")
                self.reset_connection()
                return
            if mode == "stall":
                self.finish_log(rec, reply, payload, "stall")
                app.stop_event.wait(float(fault.spec.get("seconds", 30)))
                self.drop_connection()
                return
            if mode == "malformed":
                cut = payload[:max(1, len(payload) // 2)] if len(payload) > 2 else b"{"
                self.finish_log(rec, reply, payload, "malformed")
                self.send_raw(reply.status if reply.status != 204 else 200,
                              "application/json; charset=utf-8", cut, reply.headers)
                return
            if mode == "close":
                self.finish_log(rec, reply, payload, None)
                self.send_raw(reply.status, ctype, payload, reply.headers, close=True)
                return
            if mode not in ("slow-apply",):
                # 5xx/429/html/status after applying
                rec["applied_status"] = reply.status
                if self.fault_reply(fault, rec):
                    return
        self.finish_log(rec, reply, payload, None)
        self.send_raw(reply.status, ctype, payload, reply.headers)

    def fault_reply(self, fault, rec):
        """Answer with the fault's own status and body.  False when the mode has none."""
        mode = fault.mode
        spec = fault.spec
        extra = dict(spec.get("headers") or {})
        if mode in ("500", "502", "503", "504", "status"):
            status = int(mode) if mode != "status" else spec["status"]
            body = spec.get("body", {"code": "UnexpectedServerError",
                                     "message": "An unexpected server error has occurred",
                                     "errors": None} if status >= 500 else
                            {"code": "FakeFault", "message": "injected status %d" % status,
                             "errors": None})
            if "retry_after" in spec:
                extra["Retry-After"] = retry_after(spec)
            payload = b"" if status == 204 else json.dumps(body).encode("utf-8")
            ctype = "application/json; charset=utf-8"
        elif mode == "429":
            status = 429
            secs = spec.get("retry_after", 30)
            extra["Retry-After"] = retry_after(dict(spec, retry_after=secs))
            body = {"error": "ConnectWiseAPI", "message": "Too many requests. Please try "
                    "again in %s seconds." % secs}
            payload = json.dumps(body).encode("utf-8")
            ctype = "application/json; charset=utf-8"
        elif mode == "html":
            status = spec.get("status", 502)
            body = None
            payload = HTML_PAGE
            ctype = "text/html"
        else:
            return False
        rec["status"] = status
        rec["response"] = body
        rec["response_headers"] = extra
        rec["outcome"] = "fault"
        with self.server.app.lock:
            self.server.app.record(rec)
        self.send_raw(status, ctype, payload, extra)
        return True

    def finish_log(self, rec, reply, payload, outcome):
        response_json = None
        if reply is not None:
            rec["status"] = reply.status
            if reply.raw is not None:
                try:
                    rec["response"] = json.loads(reply.raw)
                except ValueError:
                    rec["response"] = None
            elif payload and reply.body is not None:
                # payload is json_reply()'s JSON of this body: reuse it
                response_json = payload.decode("utf-8")
            else:
                rec["response"] = reply.body
            hdr = {k: v for k, v in reply.headers.items() if v is not None}
            if hdr:
                rec["response_headers"] = hdr
        else:
            rec["status"] = None
            rec["response"] = None
        rec["outcome"] = outcome or "replied"
        with self.server.app.lock:
            self.server.app.record(rec, response_json)

    # ---- control interface ----------------------------------------------------------

    def control(self, path, q, raw):
        app = self.server.app
        try:
            body = json.loads(raw.decode("utf-8")) if raw else None
        except (UnicodeDecodeError, ValueError):
            return self.control_reply(400, {"error": "body is not JSON"})
        cmd = path[len("/__fake/"):].strip("/")
        method = self.command
        with app.lock:
            try:
                if cmd == "faults":
                    if method == "GET":
                        return self.control_reply(200, [f.describe() for f in app.faults])
                    if method == "DELETE":
                        app.faults = []
                        return self.control_reply(200, {"cleared": True})
                    if method == "POST":
                        specs = body if isinstance(body, list) else [body]
                        return self.control_reply(200, [app.add_fault(s) for s in specs]
                                                  if isinstance(body, list)
                                                  else app.add_fault(body))
                elif cmd == "log":
                    if method == "GET":
                        since = int(q.get("since", 0))
                        payload = '{"requests":[%s],"next":%d}' % (
                            ",".join(app.log[since:]), len(app.log))
                        return self.send_raw(200, "application/json",
                                             payload.encode("utf-8"))
                    if method == "DELETE":
                        app.log = []
                        return self.control_reply(200, {"cleared": True})
                elif cmd == "reset":
                    if method == "POST":
                        app.reset_state()
                        app.faults = []
                        if not (isinstance(body, dict) and body.get("keep_log")):
                            app.log = []
                        return self.control_reply(200, {"reset": True})
                elif cmd == "config":
                    if method == "GET":
                        return self.control_reply(200, app.config)
                    if method == "POST" and isinstance(body, dict):
                        for k, v in body.items():
                            if k == "guid" and v not in ("store", "drop", "nofilter"):
                                raise ValueError("guid must be store, drop or nofilter")
                            if k == "api_member" and not any(
                                    m["identifier"] == v for m in app.members.values()):
                                raise ValueError("no member %r" % (v,))
                            if k not in app.config:
                                raise ValueError("unknown config key %r" % (k,))
                            app.config[k] = v
                        return self.control_reply(200, app.config)
                elif cmd == "state":
                    if method == "GET":
                        return self.control_reply(200, {
                            "entries": sorted(app.entries.values(), key=lambda e: e["id"]),
                            "sheets": sorted(app.sheets.values(), key=lambda s: s["id"]),
                            "faults": [f.describe() for f in app.faults],
                            "config": app.config, "requests": len(app.log)})
                elif cmd == "entries":
                    if method == "GET":
                        return self.control_reply(200, sorted(app.entries.values(),
                                                              key=lambda e: e["id"]))
                    if method == "POST":
                        items = body if isinstance(body, list) else [body]
                        ids = []
                        for item in items:
                            ent = app.build_entry(item, seeding=True)
                            ent["id"] = item.get("id") or app.next_entry
                            app.next_entry = max(app.next_entry, ent["id"]) + 1
                            app.store(ent)
                            ids.append(ent["id"])
                        return self.control_reply(200, {"ids": ids})
                elif cmd == "chargecodes":
                    if method == "POST":
                        # seed-shaped charge codes (company by identifier)
                        items = body if isinstance(body, list) else [body]
                        ids = []
                        for item in items:
                            cc = dict(item)
                            cc["company"] = app.company_ref(item["company"])
                            app.charge_codes[cc["id"]] = cc
                            ids.append(cc["id"])
                        return self.control_reply(200, {"ids": ids})
                else:
                    return self.control_reply(404, {"error": "unknown control path"})
                return self.control_reply(405, {"error": "method not allowed"})
            except CwError as ex:
                return self.control_reply(ex.status, ex.body())
            except (ValueError, TypeError, KeyError) as ex:
                return self.control_reply(400, {"error": str(ex)})

    def control_reply(self, status, obj):
        payload = json.dumps(obj, separators=(",", ":")).encode("utf-8")
        self.send_raw(status, "application/json", payload)


def retry_after(spec):
    v = spec.get("retry_after")
    if isinstance(v, str):
        return v
    if spec.get("retry_after_form") == "date":
        return email.utils.formatdate(time.time() + v, usegmt=True)
    return str(int(v))


class Server(http.server.ThreadingHTTPServer):
    """One thread per connection, as ThreadingHTTPServer, but threads are
    reused: a connection goes to an idle worker, and a new worker starts
    only when none is idle (so a stalled connection never blocks others).
    Starting a thread for each connection was about a fifth of the fake's
    time per request, and cwtimed opens a fresh connection for every POST
    (RELIABILITY.md 4.4): the submission benchmark measured the fake."""
    daemon_threads = True
    request_queue_size = 128
    allow_reuse_address = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._jobs = queue.SimpleQueue()
        self._pool_lock = threading.Lock()
        self._idle = 0

    def process_request(self, request, client_address):
        with self._pool_lock:
            spawn = self._idle == 0
            if not spawn:
                self._idle -= 1
        if spawn:
            threading.Thread(target=self._worker, daemon=True).start()
        self._jobs.put((request, client_address))

    def _worker(self):
        while True:
            request, client_address = self._jobs.get()
            try:
                self.finish_request(request, client_address)
            except Exception:  # noqa: BLE001 - as socketserver does
                self.handle_error(request, client_address)
            finally:
                self.shutdown_request(request)
            with self._pool_lock:
                self._idle += 1

    def handle_error(self, request, client_address):
        # a client that vanishes or fails the TLS handshake is routine in the fault
        # tests; anything else is a bug in the fake and gets its traceback
        if isinstance(sys.exc_info()[1], (OSError, ssl.SSLError)):
            return
        super().handle_error(request, client_address)


def write_port_file(path, port):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w", encoding="ascii") as f:
        f.write("%d\n" % port)
    os.rename(tmp, path)


def main(argv=None):
    ap = argparse.ArgumentParser(description="Fake ConnectWise PSA server (loopback only).")
    ap.add_argument("--port", type=int, default=0, help="TCP port (default: any free)")
    ap.add_argument("--port-file", help="write the port number here once listening")
    ap.add_argument("--company", default=DEFAULT_COMPANY)
    ap.add_argument("--public-key", default=DEFAULT_PUBLIC_KEY)
    ap.add_argument("--private-key", default=DEFAULT_PRIVATE_KEY)
    ap.add_argument("--client-id", default=DEFAULT_CLIENT_ID,
                    help="required clientId header value ('' accepts any non-empty)")
    ap.add_argument("--codebase", help="Codebase answered by /login/companyinfo")
    ap.add_argument("--seed", default=SEED_FILE, help="seed data (JSON)")
    ap.add_argument("--https", nargs=2, metavar=("CERT", "KEY"), help="serve TLS")
    ap.add_argument("--log", help="append every request as a JSON line to this file")
    ap.add_argument("--redact", action="store_true",
                    help="log 'Basic <redacted>' instead of the Authorization header")
    ap.add_argument("--guid", default="store", choices=("store", "drop", "nofilter"),
                    help="mobileGuid behaviour (connectwise-api.md 14 row 11)")
    ap.add_argument("--verbose", action="store_true")
    opts = ap.parse_args(argv)

    app = App(opts)
    server = Server(("127.0.0.1", opts.port), Handler)
    server.app = app
    if opts.https:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(opts.https[0], opts.https[1])
        # handshake in the handler thread, so that a bad client cannot block accept()
        server.socket = ctx.wrap_socket(server.socket, server_side=True,
                                        do_handshake_on_connect=False)
    port = server.server_address[1]

    def on_term(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    if opts.port_file:
        write_port_file(opts.port_file, port)
    sys.stdout.write("%d\n" % port)
    sys.stdout.flush()
    sys.stderr.write("fakecw: listening on %s://127.0.0.1:%d/v4_6_release/apis/3.0 "
                     "(company %s)\n" % ("https" if opts.https else "http", port,
                                         opts.company))
    try:
        server.serve_forever(poll_interval=0.2)
    except SystemExit:
        pass
    finally:
        app.stop_event.set()
        server.server_close()
        if app.log_file is not None:
            app.log_file.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
