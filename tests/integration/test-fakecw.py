#!/usr/bin/python3
"""test-fakecw.py - exercises the fake ConnectWise server itself (TAP).

Starts tests/fakecw/fakecw.py on a free loopback port and talks to it over real HTTP
(urllib, http.client, raw sockets): authentication and its error shapes, creating and
validating entries, conditions (with hostile strings), paging over more than 1000
entries, PATCH, DELETE, time-sheet actions, every fault mode, the request log, and
finally every request and reply of the whole run validated against the OpenAPI subset
with python3-jsonschema (connectwise-api.md section 15).  The conditions parser and the
JSON Patch module are also tested directly, in process.
"""

import datetime
import email.utils
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse

sys.dont_write_bytecode = True
TOP = os.environ.get("top_srcdir") or os.path.join(os.path.dirname(
    os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.join(TOP, "tests", "fakecw"))

import client  # noqa: E402
import conditions  # noqa: E402
import cwschema  # noqa: E402
import patch  # noqa: E402

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


class Fail(AssertionError):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def eq(got, want, what):
    if got != want:
        raise Fail("%s: got %r, want %r" % (what, got, want))


CW = None          # the running fake
GUID_N = [0]


def guid():
    GUID_N[0] += 1
    return "7d3c0f00-1a2b-4c3d-8e9f-%012d" % GUID_N[0]


def entry(**kw):
    """A valid POST body on a current (open) week."""
    body = {"chargeToType": "ServiceTicket", "chargeToId": 54321,
            "member": {"identifier": "jdoe"},
            "timeStart": "2026-06-01T09:00:00Z", "timeEnd": "2026-06-01T10:30:00Z",
            "actualHours": 1.5, "notes": "fixed it", "mobileGuid": guid()}
    body.update(kw)
    return {k: v for k, v in body.items() if v is not None}


def post(body, tag=None, **kw):
    h = {"X-Fakecw-Tag": tag} if tag else None
    return CW.api("POST", "/time/entries", body=body, headers=h, **kw)


def expect_invalid(r, field, code=None, status=400):
    eq(r.status, status, "status")
    check(isinstance(r.body, dict), "error body is JSON: %r" % (r.raw,))
    eq(r.body.get("code"), "InvalidObject", "top-level code")
    check(r.body.get("message", "").endswith("is invalid") or
          r.body.get("message") == "time sheet is not open",
          "message shape: %r" % r.body.get("message"))
    errs = r.body.get("errors") or []
    fields = [e.get("field") for e in errs]
    check(field in fields, "nested field %r in %r" % (field, errs))
    if code:
        codes = [e.get("code") for e in errs if e.get("field") == field]
        check(code in codes, "nested code %r in %r" % (code, errs))


def query(cond, **extra):
    q = {"conditions": cond, "pageSize": "1000"}
    q.update(extra)
    return CW.api("GET", "/time/entries", query=q)


def ids_of(r):
    check(r.status == 200, "status %d %r" % (r.status, r.raw[:300]))
    return sorted(e["id"] for e in r.body)


def raw_request(method, relpath, body=None, headers=None, timeout=5):
    """One request on a fresh socket; returns (status or None, error name or None)."""
    c = http.client.HTTPConnection("127.0.0.1", CW.port, timeout=timeout)
    h = CW.api_headers()
    h.update(headers or {})
    data = None
    if body is not None:
        data = json.dumps(body)
        h["Content-Type"] = "application/json"
    try:
        c.request(method, client.API_PREFIX + relpath, data, h)
        r = c.getresponse()
        payload = r.read()
        return r, payload, None
    except (ConnectionResetError, ConnectionAbortedError, BrokenPipeError) as ex:
        return None, None, type(ex).__name__
    except http.client.RemoteDisconnected:
        return None, None, "RemoteDisconnected"
    except socket.timeout:
        return None, None, "timeout"
    finally:
        c.close()


def stored_guids():
    return [e.get("mobileGuid") for e in CW.entries()]


# ---------------------------------------------------------------- conditions, in process

@test
def conditions_precedence_and_parentheses():
    rec = {"a": 1, "b": 2, "c": 3}
    # and binds tighter than or: a=9 or (b=2 and c=3)
    check(conditions.matches(conditions.parse("a=9 or b=2 and c=3"), rec), "precedence")
    check(not conditions.matches(conditions.parse("(a=9 or b=2) and c=4"), rec), "parens")
    check(conditions.matches(conditions.parse("(a=9 OR b=2) AND (c>=3)"), rec),
          "case-insensitive keywords")
    check(not conditions.matches(conditions.parse("a=1 and (b=2 and (c<3))"), rec),
          "nested parens")


@test
def conditions_hostile_strings():
    note = "He said \"stop\" (and/or 'go') = done"
    rec = {"notes": note, "member": {"identifier": "jdoe"}}
    # No escapes exist: a value is quoted with the quote kind it lacks, and
    # a value holding both kinds cannot be written as one string at all.
    for text in ['notes contains \'He said "stop" (and/or \'',
                 'notes contains "(and/or \'go\') = done"',
                 "notes contains '(and/or'", 'notes contains ") = d"',
                 "notes like '*\"stop\"*'", 'member/identifier="JDOE" and notes '
                 'not contains "and x"']:
        ast = conditions.parse(text)
        check(conditions.matches(ast, rec), "should match: %s" % text)
        check(conditions.compile_ast(ast)(rec), "compiled should match: %s" % text)
    for text in ['notes = "He said"', "notes contains 'or go'",
                 'notes not like "*stop*"']:
        check(not conditions.matches(conditions.parse(text), rec), "no match: %s" % text)
    check(conditions.matches(conditions.parse('notes = "a\\b"'), {"notes": "a\\b"}),
          "a backslash is an ordinary character")
    try:
        conditions.parse('notes = "say \\"hi\\""')
    except conditions.ConditionError:
        pass
    else:
        raise Fail("a backslash-escaped quote must not be accepted")


@test
def conditions_values_dates_in_null():
    rec = {"timeStart": "2024-02-15T09:00:00Z", "id": 7, "flag": True,
           "workType": {"id": 3}, "timeEnd": None}
    cases = [("timeStart>=[2024-02-01] and timeStart<[2024-03-01]", True),
             ("timeStart=[2024-02-15T09:00:00Z]", True),
             ("timeStart>[2024-02-15T10:00:00+02:00]", True),
             ("timeStart<[2024-02-15]", False),
             ("workType/id in (1, 3, 7)", True), ("workType/id not in (1,2)", True),
             ("id in (1,2)", False), ("flag=TRUE", True), ("flag=false", False),
             ("timeEnd=null", True), ("timeEnd!=null", False), ("missing=null", True),
             ("id>=7 and id<=7 and id!=8", True), ("id=7.0", True), ("id=-7", False)]
    for text, want in cases:
        eq(conditions.matches(conditions.parse(text), rec), want, text)
        eq(conditions.compile_ast(conditions.parse(text))(rec), want, "compiled " + text)


@test
def conditions_syntax_errors():
    bad = ['notes = "open', "chargeToType=ServiceTicket", "a not = 1", "(a=1",
           "a=1)", "", "a=1 and", "a in ()", "a contains 5", "timeStart>[2024-13-01]",
           "a=[2024-01-01", "a == 1", "a=1 or or b=2", "a=1 b=2", "a=12abc"]
    for text in bad:
        try:
            conditions.parse(text)
        except conditions.ConditionError:
            continue
        raise Fail("accepted %r" % text)


@test
def patch_module():
    rec = {"id": 1, "notes": "a", "workType": {"id": 1}}
    known = {"id", "notes", "workType", "timeEnd"}
    out, ign = patch.apply(rec, [{"op": "replace", "path": "notes", "value": "b"},
                                 {"op": "replace", "path": "/workType",
                                  "value": {"id": 3}}], known, ("id",))
    eq(out, {"id": 1, "notes": "b", "workType": {"id": 3}}, "patched")
    eq(rec["notes"], "a", "input unchanged")
    out, ign = patch.apply(rec, [{"op": "replace", "path": "workType/id", "value": 5}],
                           known)
    eq((out, ign), (rec, ["workType/id"]), "sub-path ignored")
    out, _ = patch.apply(rec, [{"op": "remove", "path": "notes"}], known)
    check("notes" not in out, "remove")
    for ops in ([{"op": "test", "path": "notes", "value": "a"}],
                [{"op": "move", "from": "notes", "path": "x"}],
                [{"op": "copy", "from": "notes", "path": "x"}],
                [{"op": "replace", "path": "nosuch", "value": 1}],
                [{"op": "replace", "path": "id", "value": 2}],
                [{"op": "replace", "path": "notes"}], [], {"op": "replace"}):
        try:
            patch.apply(rec, ops, known, ("id",))
        except patch.PatchError:
            continue
        raise Fail("accepted %r" % (ops,))


# ---------------------------------------------------------------- auth and lookup

@test
def companyinfo_lookup():
    r = CW.http("GET", "/login/companyinfo/examplemsp",
                headers={"Accept": "application/json"})
    eq(r.status, 200, "status")
    eq(r.body["Codebase"], "v4_6_release/", "Codebase")
    eq(r.body["CompanyID"], "examplemsp", "CompanyID")
    r = CW.http("GET", "/login/companyinfo/nosuchco")
    eq((r.status, r.raw), (200, b"null"), "unknown company")


@test
def auth_ok_bad_missing_clientid():
    r = CW.api("GET", "/time/workTypes")
    eq(r.status, 200, "good credentials")
    eq(len(r.body), 8, "seeded work types")
    eq(r.headers.get("api-current-version"), "2026.4", "api-current-version")
    check(r.headers.get("content-type", "").startswith("application/json"), "ctype")
    bad = CW.api("GET", "/time/workTypes", headers={
        "Authorization": CW.auth_header(private_key="wrong"), "X-Fakecw-Tag": "invalid"})
    eq(bad.status, 401, "bad key")
    eq(bad.body, {"code": "Unauthorized", "message": "Authentication failed.",
                  "errors": None}, "401 body")
    r = CW.api("GET", "/time/workTypes", headers={"Authorization": None,
                                                   "X-Fakecw-Tag": "invalid"})
    eq(r.status, 401, "no Authorization")
    r = CW.api("GET", "/time/workTypes", headers={"clientId": None,
                                                   "X-Fakecw-Tag": "invalid"})
    eq(r.status, 401, "no clientId")
    eq(r.body["message"], "clientId is missing or invalid.", "clientId message")
    r = CW.api("GET", "/time/workTypes", headers={"clientId": "not-the-one",
                                                   "X-Fakecw-Tag": "invalid"})
    eq(r.status, 401, "wrong clientId")
    r = CW.api("GET", "/time/workTypes", headers={
        "Authorization": CW.auth_header(company="othermsp"), "X-Fakecw-Tag": "invalid"})
    eq(r.status, 401, "wrong company in the user name")


@test
def auth_cloud_404():
    CW.add_fault("auth404", count=1)
    r = CW.api("GET", "/time/entries")
    eq(r.status, 200, "auth404 leaves good credentials alone")
    r = CW.api("GET", "/time/entries", headers={
        "Authorization": CW.auth_header(public_key="nope"), "X-Fakecw-Tag": "invalid"})
    eq(r.status, 404, "bad credentials answered 404 (cloud caveat)")
    eq(r.body["code"], "NotFound", "404 code")
    check("errors" in r.body and r.body["errors"] is None, "errors: null")
    r = CW.api("GET", "/time/entries", headers={
        "Authorization": CW.auth_header(public_key="nope"), "X-Fakecw-Tag": "invalid"})
    eq(r.status, 401, "count=1 spent: back to 401")
    CW.add_fault("auth404", force=True, match={"method": "POST"})
    r = post(entry(), tag="invalid")
    eq(r.status, 404, "force: even good credentials get 404")
    r = CW.api("GET", "/time/workTypes/count")
    eq((r.status, r.body), (200, {"count": 8}), "count")


@test
def unknown_paths_404_and_405():
    r = CW.api("GET", "/time/nosuch", headers={"X-Fakecw-Tag": "invalid"})
    eq(r.status, 404, "unknown path")
    eq(sorted(r.body), ["code", "errors", "message"], "envelope")
    r = CW.api("GET", "/time/entries/99999")
    eq((r.status, r.body["code"], r.body["message"]),
       (404, "NotFound", "TimeEntry 99999 not found"), "missing id")
    r = CW.api("PUT", "/time/entries", body={}, headers={"X-Fakecw-Tag": "invalid"})
    eq(r.status, 405, "PUT on a collection")


# ---------------------------------------------------------------- entries

@test
def post_valid_entry():
    body = entry(workType={"name": "remote"}, workRole={"id": 3},
                 internalNotes="[cwtimed:x]", emailCcFlag=False)
    r = post(body)
    eq(r.status, 201, "created")
    e = r.body
    check(isinstance(e.get("id"), int) and e["id"] > 1005, "id assigned: %r" % e.get("id"))
    for k in ("timeStart", "timeEnd", "actualHours", "notes", "mobileGuid",
              "internalNotes", "chargeToId", "chargeToType"):
        eq(e.get(k), body[k], k)
    eq(e["member"]["id"], 123, "member by identifier")
    eq((e["workType"]["id"], e["workType"]["name"]), (5, "Remote"), "work type by name")
    eq(e["workRole"]["id"], 3, "work role")
    eq(e["company"]["id"], 12345, "company from the ticket")
    eq(e["ticket"]["summary"], "Email delivery delayed for sales team", "ticket summary")
    eq(e["status"], "Open", "status from the sheet")
    eq(e["billableOption"], "Billable", "billable default from the work type")
    eq(e["hourlyRate"], 135.0, "role rate x multiplier")
    check("Location" not in r.headers and "location" not in r.headers, "no Location")
    g = CW.api("GET", "/time/entries/%d" % e["id"])
    eq(g.body, e, "GET by id returns the stored entry")
    sheet = CW.api("GET", "/time/sheets/%d" % e["timeSheet"]["id"]).body
    eq((sheet["dateStart"], sheet["dateEnd"]), ("2026-06-01T00:00:00Z",
                                                "2026-06-07T00:00:00Z"), "weekly sheet")
    eq(sheet["member"]["identifier"], "jdoe", "sheet member")


@test
def post_defaults_and_targets():
    r = post({"timeStart": "2026-06-02T08:00:00Z", "actualHours": 0.5,
              "chargeToType": "ChargeCode", "chargeToId": 10})
    eq(r.status, 201, "charge code entry")
    eq(r.body["timeEnd"], "2026-06-02T08:30:00Z", "timeEnd derived from actualHours")
    eq(r.body["member"]["identifier"], "apiuser", "API member when left out")
    eq(r.body["billableOption"], "DoNotBill", "charge code billing")
    eq(r.body["workType"]["name"], "Administrative", "charge code work type")
    eq(r.body["company"]["id"], 19297, "charge code company")
    r = post({"timeStart": "2026-06-02T10:00:00Z", "timeEnd": "2026-06-02T11:00:00Z",
              "hoursDeduct": 0.25, "company": {"identifier": "Globex"}})
    eq(r.status, 201, "company-only entry")
    eq((r.body["chargeToType"], r.body["chargeToId"]), ("Company", 12346), "Company target")
    eq(r.body["actualHours"], 0.75, "actualHours computed minus deduct")
    before = CW.api("GET", "/time/entries/count").body["count"]
    sheets = CW.api("GET", "/time/sheets/count").body["count"]
    d = CW.api("POST", "/time/entries/defaults", body=entry(
        timeStart="2030-01-07T09:00:00Z", timeEnd="2030-01-07T10:00:00Z", actualHours=1.0))
    eq(d.status, 200, "defaults status")
    eq(d.body["workType"]["name"], "Regular", "defaults fill the work type")
    eq(CW.api("GET", "/time/entries/count").body["count"], before, "defaults stores nothing")
    eq(CW.api("GET", "/time/sheets/count").body["count"], sheets, "nor creates a sheet")


@test
def post_invalid_bodies():
    cases = [
        (entry(timeStart=None), "timeStart", "MissingRequiredField"),
        (entry(timeStart="2026-06-01T09:00:00"), "timeStart", "InvalidField"),
        (entry(timeStart="2026-06-01T11:00:00+02:00"), "timeStart", None),
        (entry(chargeToId=99999), "chargeToId", "NotFound"),
        (entry(chargeToId="54321"), "chargeToId", "InvalidField"),
        (entry(chargeToType="Ticket"), "chargeToType", "InvalidField"),
        (entry(chargeToType=None, chargeToId=None), "chargeToId", "MissingRequiredField"),
        (entry(chargeToType=None), "chargeToType", "MissingRequiredField"),
        (entry(member={"identifier": "nobody"}), "member", "NotFound"),
        (entry(workType={"id": 99}), "workType", "NotFound"),
        (entry(workType={"id": 8}), "workType", None),
        (entry(billableOption="Maybe"), "billableOption", None),
        (entry(mobileGuid="not-a-guid"), "mobileGuid", None),
        (entry(notes=None, internalNotes=7), "internalNotes", None),
        (entry(timeEnd="2026-06-01T09:00:00Z", actualHours=None), "timeEnd", "OutOfRange"),
        (entry(actualHours=2.0), "actualHours", "OutOfRange"),
        (entry(hoursDeduct=0.5), "actualHours", "OutOfRange"),
        (entry(timeEnd=None, actualHours=None), "timeEnd", "MissingRequiredField"),
        (entry(timeSheetx=1), "timeSheetx", None),
    ]
    for body, field, code in cases:
        r = post(body, tag="invalid")
        try:
            expect_invalid(r, field, code)
        except Fail as ex:
            raise Fail("%s (body %r)" % (ex, body))
    e = post(entry(hoursDeduct=0.5, actualHours=1.0))
    eq(e.status, 201, "consistent with hoursDeduct")
    r = CW.api("POST", "/time/entries", raw_body=b"{not json",
               headers={"Content-Type": "application/json", "X-Fakecw-Tag": "invalid"})
    eq((r.status, r.body["code"]), (400, "BadRequest"), "not JSON")
    r = CW.api("POST", "/time/entries", raw_body=json.dumps(entry()).encode(),
               headers={"Content-Type": "text/plain", "X-Fakecw-Tag": "invalid"})
    eq(r.status, 415, "wrong media type")
    r = post([entry()], tag="invalid")
    eq(r.status, 400, "array body")


@test
def server_owned_fields_flagged():
    n = len(CW.requests())
    r = post(entry(id=5, status="Billed", _info={"x": "y"}, dateEntered="2020-01-01T00:00:00Z"),
             tag="server-owned")
    eq(r.status, 201, "accepted")
    check(r.body["id"] != 5 and r.body["status"] == "Open", "ignored and overwritten")
    rec = CW.requests(since=n)[-1]
    eq(sorted(rec.get("server_owned_sent", [])), sorted(["id", "status", "_info",
                                                        "dateEntered"]), "flagged")


# ---------------------------------------------------------------- queries

@test
def conditions_over_http():
    hostile = ["He said \"stop\" (and/or 'go')", "O'Brien & \"Sons\" (Plumbing)",
               "x) or (1=1", "and or not like contains in", "star*and%percent"]
    ids = {}
    for i, note in enumerate(hostile):
        r = post(entry(notes=note, timeStart="2026-06-03T0%d:00:00Z" % i,
                       timeEnd="2026-06-03T0%d:30:00Z" % i, actualHours=0.5))
        eq(r.status, 201, "post %r" % note)
        ids[note] = r.body["id"]

    def quote(s):
        # The grammar has no escapes: quote with the kind the value lacks.
        if '"' not in s:
            return '"%s"' % s
        if "'" not in s:
            return "'%s'" % s
        return None

    for note, eid in ids.items():
        q = quote(note)
        if q is None:
            # Holds both quote kinds: only its pieces can be searched for.
            for piece in note.split("'"):
                if piece:
                    check(eid in ids_of(query("notes contains %s" % quote(piece))),
                          "piece %r of %r" % (piece, note))
            continue
        eq(ids_of(query("notes = %s" % q)), [eid], "quoted %r" % note)
        eq(ids_of(query("notes=%s and member/identifier='jdoe'" % q)), [eid],
           "quoted with and %r" % note)
    eq(ids_of(query("notes contains 'x) or (1=1'")), [ids["x) or (1=1"]], "injection")
    eq(ids_of(query('notes like "star*and%percent"')), [ids["star*and%percent"]], "like")
    got = ids_of(query('(notes contains "stop" or notes contains "plumbing") and '
                       'timeStart>=[2026-06-03] and timeStart<[2026-06-04T00:00:00Z]'))
    eq(got, sorted([ids[hostile[0]], ids[hostile[1]]]), "and/or with parentheses")
    got = ids_of(query('chargeToType="ServiceTicket" and chargeToId=54321 and '
                       'timeStart=[2026-06-03T01:00:00Z] and member/identifier="jdoe"'))
    eq(got, [ids[hostile[1]]], "natural key")
    for bad in ['notes = "open', "chargeToType=ServiceTicket", "nosuchfield=1",
                "member/nosuch=1", "notes contains 5"]:
        r = query(bad)
        eq(r.status, 400, "bad conditions %r" % bad)
        eq(r.body["code"], "BadRequest", "code")
        check(r.body["message"].startswith("Invalid conditions: "), "message")
    r = CW.api("GET", "/time/entries", query={"childConditions": "a=1"})
    eq(r.status, 400, "childConditions refused")
    r = CW.api("GET", "/time/entries/count", query={"conditions": 'notes contains "stop"'})
    eq(r.body, {"count": 1}, "count with conditions")


@test
def order_and_fields():
    r = CW.api("GET", "/time/entries", query={"orderBy": "timeStart desc, id asc",
                                               "fields": "id,timeStart,member/identifier",
                                               "pageSize": "1000"})
    eq(r.status, 200, "status")
    starts = [e["timeStart"] for e in r.body]
    eq(starts, sorted(starts, reverse=True), "timeStart desc")
    eq(set(r.body[0]), {"id", "timeStart", "member"}, "fields")
    eq(set(r.body[0]["member"]), {"identifier"}, "nested field")
    r = CW.api("GET", "/time/entries", query={"orderBy": "nosuch asc"})
    eq(r.status, 400, "unknown orderBy field")


@test
def paging_over_1000_entries():
    base = datetime.datetime(2027, 1, 4, tzinfo=datetime.timezone.utc)
    batch = []
    for i in range(2100):
        t = base + datetime.timedelta(minutes=30 * i)
        batch.append({"chargeToType": "ServiceTicket", "chargeToId": 54322,
                      "member": {"id": 125}, "timeStart": t.strftime("%Y-%m-%dT%H:%M:%SZ"),
                      "actualHours": 0.25, "notes": "bulk %d" % i})
    CW.insert_entries(batch)
    cond = "member/id=125 and notes like 'bulk *'"
    eq(CW.api("GET", "/time/entries/count", query={"conditions": cond}).body["count"],
       2100, "count")
    # navigable paging, following the Link header
    url = "/time/entries?" + urllib.parse.urlencode({"conditions": cond,
                                                     "pageSize": "5000"})
    seen, pages = [], 0
    while url:
        rel = url.split(client.API_PREFIX, 1)[-1]
        path, _, qs = rel.partition("?")
        r = CW.api("GET", path, query=dict(urllib.parse.parse_qsl(qs)))
        eq(r.status, 200, "page status")
        check(len(r.body) <= 1000, "page size clamped to 1000")
        seen += [e["id"] for e in r.body]
        links = parse_link(r.headers.get("link", ""))
        check("first" in links and "last" in links, "first/last: %r" % links)
        if pages == 0:
            check("prev" not in links, "no prev on page 1")
            check("page=3" in links["last"], "last is page 3: %r" % links["last"])
        url = links.get("next")
        pages += 1
        check(pages < 10, "too many pages")
    eq(pages, 3, "pages")
    eq(len(seen), 2100, "rows")
    eq(len(set(seen)), 2100, "no duplicates")
    # forward-only paging with pageId
    fwd = {"pagination-type": "forward-only"}
    q = {"conditions": cond, "pageSize": "1000"}
    got, pages = [], 0
    while True:
        r = CW.api("GET", "/time/entries", query=q, headers=fwd)
        eq(r.status, 200, "forward page")
        got += [e["id"] for e in r.body]
        links = parse_link(r.headers.get("link", ""))
        pages += 1
        if "next" not in links:
            check(len(r.body) < 1000, "no next only on a short page")
            break
        check("pageId=%d" % r.body[-1]["id"] in links["next"], "pageId is the last id")
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(links["next"]).query))
    eq(pages, 3, "forward pages")
    eq(got, sorted(seen), "forward-only returns every row once, in id order")
    r = CW.api("GET", "/time/entries", query={"orderBy": "id desc"}, headers=fwd)
    eq(r.status, 400, "orderBy with forward-only refused")
    r = CW.api("GET", "/time/entries", query={"pageSize": "abc"})
    eq(r.status, 400, "pageSize not a number")


def parse_link(text):
    out = {}
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        url, _, rest = part.partition(">")
        rel = rest.split("rel=", 1)[1].strip().strip('"')
        out[rel] = url.lstrip("<")
    return out


# ---------------------------------------------------------------- edits

@test
def patch_put_delete():
    e = post(entry()).body
    path = "/time/entries/%d" % e["id"]
    r = CW.api("PATCH", path, body=[
        {"op": "replace", "path": "notes", "value": "Replaced PSU; tested."},
        {"op": "replace", "path": "/timeEnd", "value": "2026-06-01T11:00:00Z"},
        {"op": "replace", "path": "workType", "value": {"id": 3}}])
    eq(r.status, 200, "patch")
    eq((r.body["notes"], r.body["timeEnd"], r.body["actualHours"], r.body["workType"]["id"]),
       ("Replaced PSU; tested.", "2026-06-01T11:00:00Z", 2.0, 3), "patched fields")
    r = CW.api("PATCH", path, body=[{"op": "replace", "path": "workType/id", "value": 5}])
    eq((r.status, r.body["workType"]["id"]), (200, 3), "sub-path: misleading 200")
    eq(r.headers.get("x-fake-ignored-patch"), "workType/id", "ignored header")
    for ops in ([{"op": "test", "path": "notes", "value": "x"}],
                [{"op": "replace", "path": "status", "value": "Billed"}],
                [{"op": "replace", "path": "timeEnd", "value": "2026-06-01T08:00:00Z"}]):
        r = CW.api("PATCH", path, body=ops, headers={"X-Fakecw-Tag": "invalid"})
        eq(r.status, 400, "bad patch %r" % ops)
        eq(r.body["code"], "InvalidObject", "code")
    put = entry(notes="put")
    r = CW.api("PUT", path, body=put, headers={"X-Fakecw-Tag": "invalid"})
    expect_invalid(r, "billableOption", "MissingRequiredField")
    put["billableOption"] = "NoCharge"
    r = CW.api("PUT", path, body=put)
    eq((r.status, r.body["notes"], r.body["billableOption"], r.body["id"]),
       (200, "put", "NoCharge", e["id"]), "put")
    eq(r.body["workType"]["id"], 1, "PUT resets fields left out to defaults")
    r = CW.api("DELETE", path)
    eq((r.status, r.raw), (204, b""), "delete")
    eq(CW.api("GET", path).status, 404, "gone")
    eq(CW.api("DELETE", path).status, 404, "second delete")


@test
def delete_billed_refused():
    r = CW.api("DELETE", "/time/entries/1001")
    eq(r.status, 400, "billed")
    eq(r.body["code"], "InvalidObject", "code")
    r = CW.api("DELETE", "/time/entries/1002")
    eq((r.status, r.body["message"]), (400, "time sheet is not open"), "approved sheet")
    r = CW.api("PATCH", "/time/entries/1001", body=[{"op": "replace", "path": "notes",
                                                     "value": "x"}])
    eq(r.status, 400, "patch billed")
    eq(CW.api("GET", "/time/entries/1001").body["status"], "Billed", "still billed")


@test
def sheet_actions():
    e = post(entry(timeStart="2026-07-06T09:00:00Z", timeEnd="2026-07-06T10:00:00Z",
                   actualHours=1.0)).body
    sid = e["timeSheet"]["id"]
    sp = "/time/sheets/%d" % sid
    eq(CW.api("GET", sp).body["hours"], 1.0, "sheet hours")

    def act(name, body=None, want=200):
        r = CW.api("POST", "%s/%s" % (sp, name), body=body,
                   headers=None if want == 200 else {"X-Fakecw-Tag": "invalid"})
        eq(r.status, want, "%s status" % name)
        if want == 200:
            eq(r.body, {"success": True, "message": ""}, "%s body" % name)
        return CW.api("GET", sp).body["status"]

    eq(act("submit"), "PendingApproval", "submit")
    eq(CW.api("GET", "/time/entries/%d" % e["id"]).body["status"], "PendingApproval",
       "entries follow the sheet")
    r = CW.api("PATCH", "/time/entries/%d" % e["id"],
               body=[{"op": "replace", "path": "notes", "value": "late"}])
    eq((r.status, r.body["message"]), (400, "time sheet is not open"), "edit when submitted")
    r = post(entry(timeStart="2026-07-07T09:00:00Z", timeEnd="2026-07-07T10:00:00Z",
                   actualHours=1.0), tag="invalid")
    eq(r.status, 400, "new entry on a submitted sheet")
    act("submit", want=400)
    eq(act("approve", {"approvalType": "Tier1Update"}), "ApprovedByTierOne", "tier 1")
    eq(act("approve", {"approvalType": "Tier2Update"}), "ApprovedByTierTwo", "tier 2")
    eq(act("reverse"), "Open", "reverse")
    eq(act("submit"), "PendingApproval", "submit again")
    eq(act("reject"), "Rejected", "reject")
    act("approve", {"approvalType": "Tier1Update"}, want=400)
    eq(act("submit"), "PendingApproval", "resubmit after reject")
    eq(CW.api("GET", "/time/sheets/count",
              query={"conditions": "member/identifier='jdoe' and status='PendingApproval'"}
              ).body["count"], 1, "sheet conditions")
    eq(CW.api("POST", "/time/sheets/999999/submit").status, 404, "no such sheet")


# ---------------------------------------------------------------- faults

POSTS = {"method": "POST", "path": "/time/entries"}


@test
def fault_5xx():
    for mode in ("500", "502", "503"):
        CW.add_fault(mode, match=POSTS, **({"retry_after": 7} if mode == "503" else {}))
        g = guid()
        r, payload, err = raw_request("POST", "/time/entries", entry(mobileGuid=g))
        eq(r.status, int(mode), mode)
        eq(json.loads(payload)["code"], "UnexpectedServerError", "5xx body")
        if mode == "503":
            eq(r.getheader("Retry-After"), "7", "Retry-After on 503")
        check(g not in stored_guids(), "not applied")
    CW.add_fault("500", match=POSTS, apply=True)
    g = guid()
    r, _, _ = raw_request("POST", "/time/entries", entry(mobileGuid=g))
    eq(r.status, 500, "apply then 500")
    check(g in stored_guids(), "applied despite the 500")
    r, _, _ = raw_request("POST", "/time/entries", entry())
    eq(r.status, 201, "count=1 spent")


@test
def fault_429_both_forms():
    CW.add_fault("429", retry_after=30)
    r, payload, _ = raw_request("GET", "/time/entries")
    eq(r.status, 429, "429")
    eq(r.getheader("Retry-After"), "30", "seconds form")
    body = json.loads(payload)
    eq(body["error"], "ConnectWiseAPI", "429 body uses error, not code")
    CW.add_fault("429", retry_after=120, retry_after_form="date")
    before = time.time()
    r, _, _ = raw_request("GET", "/time/entries")
    eq(r.status, 429, "429")
    when = email.utils.parsedate_to_datetime(r.getheader("Retry-After")).timestamp()
    check(before + 110 <= when <= before + 130, "HTTP-date about 120 s ahead: %r"
          % r.getheader("Retry-After"))


@test
def fault_stall_reset_apply_then_reset():
    CW.add_fault("stall", seconds=1.5, match=POSTS)
    g = guid()
    t0 = time.monotonic()
    r, _, err = raw_request("POST", "/time/entries", entry(mobileGuid=g), timeout=0.5)
    eq(err, "timeout", "stall times the client out")
    check(time.monotonic() - t0 < 1.4, "client gave up first")
    check(g not in stored_guids(), "stall before applying stores nothing")

    CW.add_fault("reset-before", match=POSTS)
    g = guid()
    r, _, err = raw_request("POST", "/time/entries", entry(mobileGuid=g))
    check(err in ("ConnectionResetError", "RemoteDisconnected"), "reset: %r" % err)
    check(g not in stored_guids(), "reset-before stores nothing")

    CW.add_fault("apply-then-reset", count=3, match=POSTS)
    gs = [guid() for _ in range(4)]
    errs = [raw_request("POST", "/time/entries", entry(mobileGuid=x))[2] for x in gs]
    check(all(x in ("ConnectionResetError", "RemoteDisconnected") for x in errs[:3]),
          "three resets: %r" % errs)
    eq(errs[3], None, "fourth replied")
    stored = stored_guids()
    check(all(stored.count(x) == 1 for x in gs), "all four stored exactly once")
    recs = [x for x in CW.requests() if isinstance(x.get("body"), dict) and
            x["body"].get("mobileGuid") in gs]
    eq([x["outcome"] for x in recs], ["reset"] * 3 + ["replied"], "log outcomes")
    eq(recs[0]["status"], 201, "log shows the reply that was not sent")


@test
def fault_apply_then_reset_probabilistic():
    import random
    CW.add_fault("apply-then-reset", probability=0.3, seed=1, match=POSTS)
    rng = random.Random(1)
    want = [rng.random() < 0.3 for _ in range(40)]
    got = []
    for _ in range(40):
        _, _, err = raw_request("POST", "/time/entries", entry())
        got.append(err is not None)
    eq(got, want, "resets follow the seeded stream")
    check(5 <= sum(got) <= 20, "about 30%% reset: %d" % sum(got))
    CW.clear_faults()
    eq(CW.faults(), [], "cleared")


@test
def fault_malformed_html_close_slow():
    CW.add_fault("malformed", match=POSTS)
    g = guid()
    r, payload, _ = raw_request("POST", "/time/entries", entry(mobileGuid=g))
    eq(r.status, 201, "malformed keeps the status")
    try:
        json.loads(payload)
        raise Fail("body parsed: %r" % payload)
    except ValueError:
        pass
    check(g in stored_guids(), "malformed: applied")
    CW.add_fault("html", match={"method": "GET"})
    r, payload, _ = raw_request("GET", "/time/entries")
    eq(r.status, 502, "html status")
    check(r.getheader("Content-Type").startswith("text/html") and b"<html>" in payload,
          "html body")
    # close after each reply (E4): the keep-alive connection is closed by the server
    CW.add_fault("close", always=True)
    c = http.client.HTTPConnection("127.0.0.1", CW.port, timeout=5)
    c.request("GET", client.API_PREFIX + "/time/workTypes/count", headers=CW.api_headers())
    r = c.getresponse()
    r.read()
    eq(r.getheader("Connection"), "close", "Connection: close")
    check(c.sock is None or c.sock.recv(1) == b"", "server closed the connection")
    c.close()
    CW.clear_faults()
    # keep-alive works normally
    c = http.client.HTTPConnection("127.0.0.1", CW.port, timeout=5)
    for _ in range(3):
        c.request("GET", client.API_PREFIX + "/time/workTypes/count",
                  headers=CW.api_headers())
        r = c.getresponse()
        eq(r.status, 200, "keep-alive")
        r.read()
    sock = c.sock
    check(sock is not None, "connection kept open")
    c.close()
    # slow-apply (E3): stored only after the delay, then replied
    CW.add_fault("slow-apply", seconds=0.6, match=POSTS)
    g = guid()
    out = {}
    th = threading.Thread(target=lambda: out.update(r=raw_request(
        "POST", "/time/entries", entry(mobileGuid=g), timeout=0.2)))
    th.start()
    th.join()
    eq(out["r"][2], "timeout", "client timed out")
    check(g not in stored_guids(), "not stored yet")
    deadline = time.monotonic() + 5
    while g not in stored_guids():
        check(time.monotonic() < deadline, "stored after the delay")
        time.sleep(0.05)


@test
def fault_match_count_after():
    CW.add_fault("503", count=2, after=1, match={"method": "GET", "path": "/time/entries*"})
    st = [raw_request("POST", "/time/entries", entry())[0].status]
    st += [raw_request("GET", "/time/entries/count")[0].status for _ in range(4)]
    eq(st, [201, 200, 503, 503, 200], "method filter, after=1, count=2")
    CW.add_fault("status", status=409, body={"code": "Conflict", "message": "in use",
                                             "errors": None}, match=POSTS)
    r, payload, _ = raw_request("POST", "/time/entries", entry())
    eq((r.status, json.loads(payload)["code"]), (409, "Conflict"), "generic status")
    r = CW.http("POST", "/__fake/faults", body={"mode": "nosuch"})
    eq(r.status, 400, "unknown mode refused")


@test
def fault_guid_drop_and_nofilter():
    CW.add_fault("guid=drop")
    g = guid()
    r = post(entry(mobileGuid=g))
    eq(r.status, 201, "accepted")
    check("mobileGuid" not in r.body, "not stored (left out of the reply)")
    eq(ids_of(query('mobileGuid="%s"' % g)), [], "never matches")
    CW.config(guid="nofilter")
    g = guid()
    r = post(entry(mobileGuid=g))
    eq(r.body.get("mobileGuid"), g, "stored and echoed")
    r = query('mobileGuid="%s"' % g)
    eq((r.status, r.body["code"]), (400, "BadRequest"), "not filterable")
    CW.config(guid="store")
    eq(len(ids_of(query('mobileGuid="%s"' % g))), 1, "store: filterable again")
    # two entries with one UUID (E10)
    ids = CW.insert_entries([entry(mobileGuid=g)])
    eq(len(ids_of(query('mobileGuid="%s"' % g.upper()))), 2,
       "duplicates visible (GUIDs compare case-insensitively)")
    check(ids[0] > 0, "insert returns ids")


# ---------------------------------------------------------------- log, https, speed

@test
def request_log_contents():
    n = len(CW.requests())
    g = guid()
    body = entry(mobileGuid=g)
    post(body)
    query('mobileGuid="%s"' % g, fields="id,mobileGuid")
    recs = CW.requests(since=n)
    eq(len(recs), 2, "two records")
    p, q = recs
    eq((p["method"], p["path"], p["body"], p["status"]),
       ("POST", client.API_PREFIX + "/time/entries", body, 201), "POST record")
    eq(p["response"]["mobileGuid"], g, "reply logged")
    eq(p["headers"]["clientId"], client.CLIENT_ID, "clientId logged")
    eq(p["headers"]["Authorization"], CW.auth_header(), "Authorization logged")
    eq(p["headers"]["Accept"], client.ACCEPT, "Accept logged")
    eq(p["headers"]["Content-Type"], "application/json", "Content-Type logged")
    eq(q["query"]["conditions"], 'mobileGuid="%s"' % g, "query decoded")
    eq(q["query"]["fields"], "id,mobileGuid", "fields decoded")
    eq(q["response"], [{"id": p["response"]["id"], "mobileGuid": g}], "partial reply")
    with open(CW.log_path, encoding="utf-8") as f:
        lines = [json.loads(x) for x in f]
    eq(lines[-2:], recs, "log file holds the same records")


@test
def https_mode():
    openssl = shutil.which("openssl")
    if openssl is None:
        print("# skip-probe: openssl not found (ENOENT); HTTPS sub-test skipped")
        return "skip"
    d = tempfile.mkdtemp(prefix="fakecw-tls-", dir=WORK)
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key, "-out", cert], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    with client.FakeCW(workdir=d, https=(cert, key)) as tls:
        r = tls.api("GET", "/time/workTypes/count")
        eq((r.status, r.body), (200, {"count": 8}), "over TLS with the CA")
        import ssl
        try:
            tls.cafile = "/nonexistent"
            tls.api("GET", "/time/workTypes/count")
            raise Fail("verification should fail without the CA")
        except (FileNotFoundError, ssl.SSLError, OSError):
            pass
        tls.cafile = None
        eq(tls.api("GET", "/time/workTypes/count").status, 200, "still serving")


@test
def thousand_posts_fast():
    t0 = time.monotonic()
    for i in range(1000):
        r, _, err = raw_request("POST", "/time/entries", entry())
        check(err is None and r.status == 201, "post %d: %r" % (i, err))
    dt = time.monotonic() - t0
    print("# 1000 POSTs on fresh connections (client included): %.2f s" % dt)
    check(dt < 15, "1000 POSTs took %.1f s" % dt)


@test
def reset_state():
    CW.add_fault("500", always=True)
    CW.reset()
    eq(CW.faults(), [], "faults cleared")
    eq(CW.requests(), [], "log cleared")
    eq([e["id"] for e in CW.entries()], [1001, 1002, 1003, 1004, 1005], "seed entries")
    eq(CW.api("GET", "/time/entries/count").body["count"], 5, "count after reset")


def schema_check_all(records):
    problems = []
    for rec in records:
        if rec.get("tag") == "invalid":
            # deliberately bad requests: only the reply envelope is checked
            if rec.get("outcome") == "replied":
                problems += ["#%d %s" % (rec["seq"], p) for p in cwschema.check_response(
                    rec["method"], rec["relpath"], rec["status"], rec.get("response"))]
            continue
        if rec.get("tag") == "server-owned":
            continue
        problems += ["#%d %s %s: %s" % (rec["seq"], rec["method"], rec["path"], p)
                     for p in cwschema.check_log_record(rec)]
    return problems


def main():
    global CW, WORK
    WORK = tempfile.mkdtemp(prefix="test-fakecw-")
    os.chmod(WORK, 0o700)
    try:
        CW = client.FakeCW(workdir=WORK).start()
    except (client.FakeCWError, OSError) as ex:
        print("1..0 # SKIP skip-probe: cannot start fakecw: %s" % ex)
        return 0
    failures = 0
    names = [t.__name__ for t in TESTS]
    total = len(TESTS) + 1
    print("1..%d" % total)
    all_records = []
    try:
        for i, t in enumerate(TESTS, 1):
            if t.__name__ == "reset_state":
                all_records = CW.requests()
            try:
                res = t()
                if res == "skip":
                    print("ok %d - %s # SKIP" % (i, names[i - 1]))
                else:
                    print("ok %d - %s" % (i, names[i - 1]))
            except Exception as ex:  # report every failure, then go on
                failures += 1
                print("not ok %d - %s" % (i, names[i - 1]))
                for line in traceback.format_exception(ex):
                    for sub in line.rstrip().splitlines():
                        print("# " + sub)
            sys.stdout.flush()
        problems = schema_check_all(all_records)
        n_checked = len(all_records)
        if problems or n_checked < 100:
            failures += 1
            print("not ok %d - every request and reply valid against the schema "
                  "(%d records)" % (total, n_checked))
            for p in problems[:40]:
                print("# " + p)
        else:
            print("ok %d - every request and reply valid against the schema "
                  "(%d records)" % (total, n_checked))
    finally:
        CW.stop()
        if failures == 0:
            shutil.rmtree(WORK, ignore_errors=True)
        else:
            print("# work directory kept: %s" % WORK)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
