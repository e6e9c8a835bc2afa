"""A script written against Pulumi Cloud's documented REST API, standard library only.

It reads PULUMI_API (default https://api.pulumi.com) and PULUMI_ACCESS_TOKEN, lists the
caller's stacks (following continuation tokens), and for each prints its version, its
latest update and that update's engine-event count (following continuation tokens), then
the organization's resources under management by day. Output: one JSON document.
"""

import json
import os
import sys
import urllib.parse
import urllib.request

API = os.environ.get("PULUMI_API", "https://api.pulumi.com").rstrip("/")
TOKEN = os.environ["PULUMI_ACCESS_TOKEN"]


def get(path, **query):
    query = {k: v for k, v in query.items() if v is not None}
    url = API + path + ("?" + urllib.parse.urlencode(query) if query else "")
    req = urllib.request.Request(url, headers={
        "Authorization": "token " + TOKEN,
        "Accept": "application/vnd.pulumi+8",
        "Content-Type": "application/json",
    })
    with urllib.request.urlopen(req) as resp:
        return json.load(resp)


def main():
    stacks, token = [], None
    while True:
        page = get("/api/user/stacks", continuationToken=token)
        stacks.extend(page["stacks"])
        token = page.get("continuationToken")
        if not token:
            break
    report, orgs = [], set()
    for s in stacks:
        org, project, name = s["orgName"], s["projectName"], s["stackName"]
        orgs.add(org)
        base = f"/api/stacks/{org}/{project}/{name}"
        stack = get(base)
        updates = get(base + "/updates", page=1, pageSize=1, **{"output-type": "service"})
        entry = {"stack": f"{org}/{project}/{name}", "version": stack["version"],
                 "resourceCount": s.get("resourceCount"), "updates": updates.get("total")}
        if updates["updates"]:
            latest = updates["updates"][0]
            events, token = [], None
            while True:
                page = get(f"{base}/update/{latest['updateID']}/events", continuationToken=token)
                events.extend(page["events"])
                token = page.get("continuationToken")
                if not token or not page["events"]:
                    break
            entry["latest"] = {"kind": latest["info"]["kind"], "result": latest["info"]["result"],
                               "events": len(events),
                               "summary": [e["summaryEvent"]["resourceChanges"] for e in events
                                           if "summaryEvent" in e]}
        report.append(entry)
    usage = {org: get(f"/api/orgs/{org}/resources/summary", granularity="daily", lookbackDays=7)["summary"]
             for org in sorted(orgs)}
    json.dump({"stacks": report, "resources": usage}, sys.stdout)


if __name__ == "__main__":
    main()
