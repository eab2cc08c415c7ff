"""A fake W&B server for tests: the GraphQL API and presigned storage that `wandb-job publish`,
`ls` and `show` use, with the semantics of wandb-protocol.md sections 4-6 (digest dedup, PENDING
versions resumed by digest, null uploadUrl for stored blobs, commit checks) and faults on request
(HTTP status with Retry-After, connection reset, slow answers). Runs the shim reports are kept too:
upsertBucket (created or resumed by run ID, with its config), useArtifact of a job resolved
through project.artifactCollectionMembership, file_stream requests (checked for the SDK's
body shape), run files uploaded through createRunFiles, and the run's state as
project.run(name) { state } gives it to the launch agent; run() folds them into what a test
asserts on.

Python 3 standard library plus graphql-core (Debian: python3-graphql-core) to parse documents.
When a schema file is given (WANDB_GRAPHQL_SCHEMA or schema_path), every document is validated
against it and rejected with HTTP 400 when invalid. Listens on 127.0.0.1 on a free port.

    server = FakeWandb(api_key="k" * 40).start()
    server.url            # WANDB_BASE_URL
    server.add_fault("graphql:CreateArtifactFiles", "status", status=503, times=2)

Standalone: python3 fake_wandb.py --key KEY [--schema FILE] [--port-file FILE]
"""

import argparse
import base64
import hashlib
import http.server
import json
import os
import re
import socket
import struct
import sys
import threading
import time
import urllib.parse

try:
    import graphql
    from graphql.execution.values import get_variable_values
    from graphql.utilities import value_from_ast_untyped
except ImportError:  # The tests that need the fake skip themselves.
    graphql = None

ALNUM_128 = re.compile(r"^[A-Za-z0-9]{128}$")
# What W&B has beyond the shared schema subset (launch queues, run pagination).
EXTENSIONS = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                          "schema_extensions.graphql")


class FakeError(Exception):
    """A GraphQL error: HTTP 200 with an "errors" array."""


def md5_b64(data):
    return base64.b64encode(hashlib.md5(data).digest()).decode("ascii")


def artifact_digest(contents):
    h = hashlib.md5()
    h.update(b"wandb-artifact-manifest-v1\n")
    for path in sorted(contents):
        h.update(("%s:%s\n" % (path, contents[path]["digest"])).encode("utf-8"))
    return h.hexdigest()


def node_id(kind, n):
    return base64.b64encode(("%s:%d" % (kind, n)).encode()).decode()


def now_iso():
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())


class Fault:
    def __init__(self, where, kind, times=1, after=0, status=503, retry_after=None, delay=0.0,
                 body=None):
        self.where, self.kind, self.times, self.after = where, kind, times, after
        self.status, self.retry_after, self.delay, self.body = status, retry_after, delay, body
        self.hits = 0


class FakeWandb:
    def __init__(self, api_key, schema_path=None, entity="fake-user"):
        if graphql is None:
            raise RuntimeError("graphql-core is not importable (Debian: python3-graphql-core)")
        self.api_key = api_key
        self.entity = entity
        schema_path = schema_path or os.environ.get("WANDB_GRAPHQL_SCHEMA") or None
        self.schema = None
        if schema_path:
            with open(schema_path, encoding="utf-8") as f:
                text = f.read()
            with open(EXTENSIONS, encoding="utf-8") as f:
                text += "\n" + f.read()
            self.schema = graphql.build_schema(text)
        self.lock = threading.RLock()
        self.counter = 0
        self.runs = {}          # storage id -> run dict
        self.artifacts = {}     # id -> artifact dict
        self.sequences = {}     # (entity, project, name) -> sequence dict
        self.blobs = {}         # b64 md5 -> bytes
        self.blobs_birth = {}   # b64 md5 -> the artifact that first uploaded it
        self.tokens = {}        # upload token -> {"kind", "md5", "artifact", "name"}
        self.faults = []
        # What happened, for assertions.
        self.operations = []    # GraphQL operation names, in order
        self.documents = []     # (operationName, query, variables)
        self.puts = []          # {"kind": "file"|"manifest", "name", "size"}
        self.writes = []        # every request that may change state, even a refused one:
                                # "PUT <path>", "mutation <op>", "POST <file_stream path>"
        self.in_flight = 0      # requests being handled (see wait_idle)
        self.storage_auth_rejected = 0
        self.file_streams = []  # (entity, project, run, body)
        self.used = []          # useArtifact: {"entity", "project", "run", "artifact", "name"}
        self.queues = {}        # (entity, project, name) -> launch queue dict (seed_queue)
        self.usage = []         # as `used`, but state (usedBy), not cleared by reset_stats
        self.stalled = 0        # requests held by a "stall" fault right now
        self.stall_release = threading.Event()
        self.httpd = None
        self.url = None

    # --- lifecycle -------------------------------------------------------------------------

    def start(self):
        fake = self

        class Handler(_Handler):
            server_fake = fake

        self.httpd = _Server(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()

    def add_fault(self, where, kind, **kw):
        """where: "graphql:<operationName>", "graphql" (any), "put:file", "put:manifest", "put",
        "file_stream", "get". kind: "status" (status=, retry_after=, body=), "reset", "slow"
        (delay=), "stall" (holds the request until release_stalled(); `stalled` counts those
        held). times: how many matching requests it hits, after skipping `after` of them."""
        with self.lock:
            self.faults.append(Fault(where, kind, **kw))

    def release_stalled(self):
        """Lets every request held by a "stall" fault go on (each then fails with a reset)."""
        self.stall_release.set()

    def clear_faults(self):
        with self.lock:
            self.faults = []

    def take_fault(self, where):
        with self.lock:
            for f in self.faults:
                if f.where == where or where.startswith(f.where + ":"):
                    if f.after > 0:
                        f.after -= 1
                        continue
                    if f.times > 0:
                        f.times -= 1
                        f.hits += 1
                        return f
        return None

    def wait_idle(self, timeout=60):
        """Waits until no request is being handled, so that the requests of a killed client
        (still sleeping in a "slow" fault, say) are counted before the next case starts."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                if self.in_flight == 0:
                    return True
            time.sleep(0.05)
        return False

    def reset_stats(self):
        with self.lock:
            self.operations, self.documents, self.puts, self.file_streams = [], [], [], []
            self.writes = []
            self.used = []
            self.storage_auth_rejected = 0

    # --- queries for tests -------------------------------------------------------------------

    def versions(self, name, entity=None, project=None):
        """Committed versions of a collection, by index."""
        with self.lock:
            out = [a for a in self.artifacts.values() if a["collection"] == name and
                   a["state"] == "COMMITTED" and (entity is None or a["entity"] == entity) and
                   (project is None or a["project"] == project)]
            return sorted(out, key=lambda a: a["versionIndex"])

    def seed_artifact(self, entity, project, type_name, name, aliases=(), metadata=None):
        """A committed version without files, made directly (tests that only use jobs)."""
        with self.lock:
            seq = self.sequences.setdefault((entity, project, name), {
                "id": self.next_id("ArtifactSequence"), "name": name, "type": type_name,
                "entity": entity, "project": project, "versions": [], "createdAt": now_iso()})
            a = {"id": self.next_id("Artifact"), "entity": entity, "project": project,
                 "type": type_name, "collection": name, "digest": "0" * 32,
                 "state": "COMMITTED", "clientID": "", "description": None,
                 "metadata": json.dumps(metadata) if metadata is not None else None,
                 "versionIndex": sum(1 for v in seq["versions"] if v["state"] == "COMMITTED"),
                 "aliases": [], "requestedAliases": [], "createdAt": now_iso(),
                 "manifest": {"id": self.next_id("ArtifactManifest")}, "manifestDigest": None,
                 "manifestBytes": None, "files": {}, "manifestContents": {}}
            self.artifacts[a["id"]] = a
            seq["versions"].append(a)
            self.move_aliases(a, list(dict.fromkeys(list(aliases) + ["latest"])))
            return a

    def run(self, entity, project, name):
        """The run a test expects, with its file_stream content folded in: "files" maps each file
        to its lines (placed by offset; wandb-summary.json keeps the last content), "complete"
        and "exitcode" come from the final request. None when no such run."""
        with self.lock:
            run = self.find_run(entity, project, name)
            if run is None:
                return None
            out = dict(run, files={}, complete=False, exitcode=None, requests=0, uploaded=[])
            for (e, p, r, body) in self.file_streams:
                if (e, p, r) != (entity, project, name):
                    continue
                out["requests"] += 1
                for path, chunk in (body.get("files") or {}).items():
                    lines = out["files"].setdefault(path, [])
                    if path == "wandb-summary.json":
                        out["files"][path] = list(chunk["content"])
                        continue
                    offset = chunk["offset"]
                    del lines[offset:]
                    lines.extend([""] * (offset - len(lines)))
                    lines.extend(chunk["content"])
                out["uploaded"].extend(body.get("uploaded") or [])
                if body.get("complete"):
                    out["complete"] = True
                    out["exitcode"] = body.get("exitcode")
            out["run_files"] = dict(run.get("run_files") or {})
            out["used"] = [u for u in self.used if (u["entity"], u["project"], u["run"]) ==
                           (entity, project, name)]
            return out

    def pending(self, name):
        with self.lock:
            return [a for a in self.artifacts.values()
                    if a["collection"] == name and a["state"] == "PENDING"]

    def seed_run(self, entity, project, name, config=None, used=None):
        """A run made directly (tests of many runs); `used`: an artifact dict it used."""
        with self.lock:
            run = {"id": self.next_id("Run"), "name": name, "project": project,
                   "entity": entity, "jobType": None, "deleted": False,
                   "config": {k: {"value": v} for k, v in (config or {}).items()},
                   "upserts": 1, "run_files": {}, "createdAt": now_iso()}
            self.runs[run["id"]] = run
            if used is not None:
                self.usage.append({"entity": entity, "project": project, "run": name,
                                   "artifact": used["id"],
                                   "name": "%s:v%d" % (used["collection"],
                                                       used["versionIndex"])})
            return run

    def seed_queue(self, name, entity=None, project="model-registry", deny=False):
        """A launch queue (W&B's default queue project is model-registry). deny: pushing to it
        fails as W&B answers a user without access."""
        with self.lock:
            q = {"id": self.next_id("RunQueue"), "name": name, "entity": entity or self.entity,
                 "project": project, "access": "PROJECT", "createdBy": self.entity,
                 "deny": deny, "items": []}
            self.queues[(q["entity"], project, name)] = q
            return q

    def queue_items(self, name, entity=None, project="model-registry"):
        """The items pushed to a queue, oldest first, with runSpec parsed."""
        with self.lock:
            q = self.queues[(entity or self.entity, project, name)]
            return [dict(i, runSpec=json.loads(i["runSpec"])) for i in q["items"]]

    def claim_item(self, item_id, run_id):
        """What the launch agent does when it starts an item's run."""
        with self.lock:
            for q in self.queues.values():
                for i in q["items"]:
                    if i["id"] == item_id:
                        i["state"], i["associatedRunId"] = "CLAIMED", run_id
                        return i
        raise KeyError(item_id)

    def fail_item(self, item_id):
        """What the agent does with an item it cannot run."""
        with self.lock:
            for q in self.queues.values():
                for i in q["items"]:
                    if i["id"] == item_id:
                        i["state"] = "FAILED"
                        return i
        raise KeyError(item_id)

    def delete_item(self, item_id):
        with self.lock:
            for q in self.queues.values():
                q["items"] = [i for i in q["items"] if i["id"] != item_id]

    # --- helpers -------------------------------------------------------------------------------

    def next_id(self, kind):
        self.counter += 1
        return node_id(kind, self.counter)

    def check_auth(self, header):
        want = "Basic " + base64.b64encode(("api:" + self.api_key).encode()).decode()
        return header == want

    def storage_url(self, kind, token):
        return "%s/storage/%s/%s" % (self.url, kind, token)

    def sequence_of(self, a):
        return self.sequences[(a["entity"], a["project"], a["collection"])]

    def move_aliases(self, a, aliases):
        seq = self.sequence_of(a)
        for alias in aliases:
            for other in seq["versions"]:
                if alias in other["aliases"]:
                    other["aliases"].remove(alias)
            a["aliases"].append(alias)

    # --- GraphQL -------------------------------------------------------------------------------

    def graphql(self, body):
        query = body.get("query")
        variables = body.get("variables") or {}
        op_name = body.get("operationName")
        try:
            doc = graphql.parse(query)
        except graphql.GraphQLError as e:
            return 400, {"errors": [{"message": "syntax: %s" % e.message}]}
        if self.schema is not None:
            errors = graphql.validate(self.schema, doc)
            if errors:
                return 400, {"errors": [{"message": e.message} for e in errors]}
        ops = [d for d in doc.definitions if isinstance(d, graphql.OperationDefinitionNode)]
        op = next((o for o in ops if o.name and o.name.value == op_name), None)
        if op is None and len(ops) == 1:
            op = ops[0]
        if op is None:
            return 400, {"errors": [{"message": "unknown operation %r" % op_name}]}
        if self.schema is not None:
            # Variables must match their declared types (what the server does before executing).
            coerced = get_variable_values(self.schema, op.variable_definitions, variables)
            if isinstance(coerced, list):
                return 400, {"errors": [{"message": e.message} for e in coerced]}
        with self.lock:
            self.operations.append(op_name or "")
            self.documents.append((op_name, query, variables))
            if op.operation != graphql.OperationType.QUERY:
                self.writes.append("%s %s" % (op.operation.value, op_name or ""))
            data = {}
            name = ""
            introspection = None
            fragments = {d.name.value: d for d in doc.definitions
                         if isinstance(d, graphql.FragmentDefinitionNode)}
            try:
                for sel in op.selection_set.selections:
                    if not _included(sel, variables):
                        continue
                    name = sel.name.value
                    if name.startswith("__"):
                        # W&B's SDK asks the server's schema which fields it knows.
                        if introspection is None:
                            introspection = self.introspect(doc, variables, op_name)
                        key = sel.alias.value if sel.alias else name
                        data[key] = introspection.get(key)
                        continue
                    args = {a.name.value: value_from_ast_untyped(a.value, variables)
                            for a in sel.arguments}
                    resolver = getattr(self, "r_" + name, None)
                    if resolver is None:
                        raise FakeError("the fake does not implement %s" % name)
                    key = sel.alias.value if sel.alias else name
                    data[key] = _select(resolver(**args), sel.selection_set, variables,
                                        fragments)
            except FakeError as e:
                return 200, {"data": None, "errors": [{"message": str(e), "path": [name]}]}
        return 200, {"data": data}

    def introspect(self, doc, variables, op_name):
        """The introspection fields (__type, __schema) of a document, answered from the schema;
        without one, every type is unknown (null)."""
        if self.schema is None:
            return {}
        result = graphql.execute(self.schema, doc, variable_values=variables,
                                 operation_name=op_name)
        return result.data or {}

    # Root resolvers: r_<field>(**args) -> plain values, dicts and callables (field args).

    def r_viewer(self):
        return {"id": node_id("User", 1), "entity": self.entity, "username": self.entity,
                "email": "fake@example.invalid", "teams": {"edges": []}}

    def r_serverInfo(self):
        return {"features": []}

    def r_upsertBucket(self, input):
        for key in ("name", "modelName", "entityName"):
            if not input.get(key):
                raise FakeError("upsertBucket: %s is required by the fake" % key)
        config = input.get("config")
        if config is not None:
            config = json.loads(config)  # a JSONString: {"key": {"value": ...}}
            if not isinstance(config, dict) or not all(
                    isinstance(v, dict) and "value" in v for v in config.values()):
                raise FakeError('upsertBucket: config must be {"key": {"value": ...}}')
        run = self.find_run(input["entityName"], input["modelName"], input["name"])
        inserted = run is None
        if inserted:
            run = {"id": self.next_id("Run"), "name": input["name"],
                   "project": input["modelName"], "entity": input["entityName"],
                   "jobType": input.get("jobType"), "deleted": False, "config": None,
                   "upserts": 0, "run_files": {}, "createdAt": now_iso()}
            self.runs[run["id"]] = run
        run["upserts"] += 1
        if config is not None:
            run["config"] = config
        for key in ("host", "jobProgram", "commit", "jobRepo"):
            if input.get(key) is not None:
                run[key] = input[key]
        files = self.run(run["entity"], run["project"], run["name"])["files"]
        summary = files.get("wandb-summary.json")
        return {"bucket": {"id": run["id"], "name": run["name"], "displayName": run["name"],
                           "historyLineCount": len(files.get("wandb-history.jsonl", [])),
                           "logLineCount": len(files.get("output.log", [])),
                           "summaryMetrics": summary[-1] if summary else None,
                           "project": {"id": node_id("Project", 1), "name": run["project"],
                                       "entity": {"id": node_id("Entity", 1),
                                                  "name": run["entity"]}}},
                "inserted": inserted}

    def r_useArtifact(self, input):
        a = self.artifacts.get(input["artifactID"])
        if a is None or a["state"] != "COMMITTED":
            raise FakeError("useArtifact: no committed artifact %s" % input["artifactID"])
        run = self.find_run(input["entityName"], input["projectName"], input["runName"])
        if run is None:
            raise FakeError("useArtifact: no run %s in %s/%s" % (
                input["runName"], input["entityName"], input["projectName"]))
        use = {"entity": run["entity"], "project": run["project"], "run": run["name"],
               "artifact": a["id"], "name": "%s:v%d" % (a["collection"], a["versionIndex"])}
        self.used.append(use)
        if use not in self.usage:
            self.usage.append(use)
        return {"artifact": self.artifact_obj(a)}

    def r_createRunFiles(self, input):
        run = self.find_run(input["entityName"], input["projectName"], input["runName"])
        if run is None:
            raise FakeError("createRunFiles: no run %s in %s/%s" % (
                input["runName"], input["entityName"], input["projectName"]))
        files = []
        for name in input["files"]:
            token = self.next_id("Upload")
            self.tokens[token] = {"kind": "run-file", "md5": None, "artifact": None,
                                  "name": name, "run": run["id"]}
            files.append({"id": self.next_id("File"), "name": name, "displayName": name,
                          "uploadUrl": self.storage_url("upload", token), "uploadHeaders": [],
                          "directUrl": "", "sizeBytes": 0})
        return {"runID": run["id"], "uploadHeaders": ["Content-Type:application/octet-stream"],
                "files": files}

    def run_state(self, run):
        """What W&B reports as the run's state: running until file_stream completes it."""
        for (e, p, r, body) in self.file_streams:
            if (e, p, r) == (run["entity"], run["project"], run["name"]) and body.get("complete"):
                return "finished" if body.get("exitcode") == 0 else "failed"
        return "running"

    def run_obj(self, e, p, name):
        run = self.find_run(e, p, name)
        if run is None:
            return None
        return {"id": run["id"], "name": run["name"], "displayName": run["name"],
                "state": self.run_state(run), "config": json.dumps(run["config"] or {}),
                "host": run.get("host"), "commit": run.get("commit"),
                "jobType": run.get("jobType"), "tags": [], "createdAt": run["createdAt"],
                "user": {"id": node_id("User", 1), "name": self.entity,
                         "username": self.entity},
                "project": lambda: self.project_ref(run["entity"], run["project"])}

    def r_deleteRun(self, input):
        run = self.runs.get(input["id"])
        if run is None:
            raise FakeError("deleteRun: no run %s" % input["id"])
        run["deleted"] = True
        return {"clientMutationId": None}

    def find_run(self, entity, project, name):
        for r in self.runs.values():
            if (r["entity"], r["project"], r["name"]) == (entity, project, name):
                return r
        return None

    def r_createArtifact(self, input):
        e, p, t = input["entityName"], input["projectName"], input["artifactTypeName"]
        names = input.get("artifactCollectionNames") or [input.get("artifactCollectionName")]
        if len(names) != 1 or not names[0]:
            raise FakeError("createArtifact: exactly one collection name expected")
        name = names[0]
        if input.get("enableDigestDeduplication") is not True:
            raise FakeError("createArtifact: enableDigestDeduplication must be true")
        if input.get("digestAlgorithm", "MANIFEST_MD5") != "MANIFEST_MD5":
            raise FakeError("createArtifact: digestAlgorithm must be MANIFEST_MD5")
        for key in ("clientID", "sequenceClientID"):
            if not ALNUM_128.match(input.get(key) or ""):
                raise FakeError("createArtifact: %s must be 128 alphanumerics" % key)
        if not re.match(r"^[0-9a-f]{32}$", input["digest"]):
            raise FakeError("createArtifact: digest must be 32 hex characters")
        if input.get("runName") and not self.find_run(e, p, input["runName"]):
            raise FakeError("createArtifact: no run %s in %s/%s" % (input["runName"], e, p))
        aliases = []
        for a in input.get("aliases") or []:
            if a["artifactCollectionName"] != name:
                raise FakeError("createArtifact: alias %r names collection %r, not %r"
                                % (a["alias"], a["artifactCollectionName"], name))
            aliases.append(a["alias"])
        if input.get("metadata") is not None:
            json.loads(input["metadata"])  # must be a JSON string
        seq = self.sequences.get((e, p, name))
        if seq is None:
            seq = {"id": self.next_id("ArtifactSequence"), "name": name, "type": t,
                   "entity": e, "project": p, "versions": [], "createdAt": now_iso()}
            self.sequences[(e, p, name)] = seq
        elif seq["type"] != t:
            raise FakeError("createArtifact: %s is a %s collection, not %s" % (name, seq["type"], t))
        # wandb-protocol.md 4.4: the same clientID is the same artifact; the same digest as a
        # committed version is that version (dedup). A PENDING version with the same digest but
        # another clientID is not shared: a second publisher gets a version of its own.
        for a in seq["versions"]:
            if a["clientID"] == input["clientID"] or (
                    a["digest"] == input["digest"] and a["state"] == "COMMITTED"):
                if a["state"] == "COMMITTED":
                    self.move_aliases(a, [x for x in aliases if x not in a["aliases"]])
                else:
                    a["requestedAliases"] = aliases
                return {"artifact": self.artifact_obj(a)}
        a = {"id": self.next_id("Artifact"), "entity": e, "project": p, "type": t,
             "collection": name, "digest": input["digest"], "state": "PENDING",
             "clientID": input["clientID"], "description": input.get("description"),
             "metadata": input.get("metadata"), "versionIndex": None, "aliases": [],
             "requestedAliases": aliases, "createdAt": now_iso(), "manifest": None,
             "manifestDigest": None, "manifestBytes": None, "files": {}}
        self.artifacts[a["id"]] = a
        seq["versions"].append(a)
        return {"artifact": self.artifact_obj(a)}

    def pending_artifact(self, artifact_id, what):
        a = self.artifacts.get(artifact_id)
        if a is None:
            raise FakeError("%s: no artifact %s" % (what, artifact_id))
        if a["state"] != "PENDING":
            raise FakeError("%s: artifact %s is %s" % (what, artifact_id, a["state"]))
        return a

    def r_createArtifactManifest(self, input):
        a = self.pending_artifact(input["artifactID"], "createArtifactManifest")
        if input.get("type", "FULL") != "FULL" or input["name"] != "wandb_manifest.json":
            raise FakeError("createArtifactManifest: the fake takes FULL wandb_manifest.json")
        if not self.find_run(input["entityName"], input["projectName"], input["runName"]):
            raise FakeError("createArtifactManifest: no run %s" % input["runName"])
        if a["manifest"] is None:
            a["manifest"] = {"id": self.next_id("ArtifactManifest")}
        # The first call (no digest) of a second publisher of the same artifact leaves the
        # manifest another one declared alone; declaring another digest drops the uploaded bytes.
        if input["digest"] and input["digest"] != a["manifestDigest"]:
            a["manifestDigest"] = input["digest"]
            a["manifestBytes"] = None
        token = None
        if input["digest"]:
            token = self.next_id("Upload")
            self.tokens[token] = {"kind": "manifest", "md5": input["digest"], "artifact": a["id"],
                                  "name": "wandb_manifest.json"}
        return {"artifactManifest": {
            "id": a["manifest"]["id"], "type": "FULL", "createdAt": now_iso(),
            "file": {"id": self.next_id("File"), "name": "wandb_manifest.json",
                     "uploadUrl": self.storage_url("upload", token) if token else None,
                     "uploadHeaders": ["Content-MD5:%s" % input["digest"]] if token else []}}}

    def r_createArtifactFiles(self, input):
        if input["storageLayout"] != "V2":
            raise FakeError("createArtifactFiles: storageLayout must be V2")
        edges = []
        for spec in input["artifactFiles"]:
            a = self.pending_artifact(spec["artifactID"], "createArtifactFiles")
            if a["manifest"] is None or spec.get("artifactManifestID") != a["manifest"]["id"]:
                raise FakeError("createArtifactFiles: artifactManifestID is not the artifact's")
            md5 = spec["md5"]
            a["files"][spec["name"]] = md5
            node = {"id": self.next_id("File"), "name": spec["name"],
                    "displayName": spec["name"].split("/")[-1],
                    "storagePath": "wandb_artifacts/%s" % md5, "uploadMultipartUrls": None}
            if md5 in self.blobs:
                birth = self.blobs_birth.get(md5, a["id"])
                node.update(uploadUrl=None, uploadHeaders=[], artifact={"id": birth})
            else:
                token = self.next_id("Upload")
                self.tokens[token] = {"kind": "file", "md5": md5, "artifact": a["id"],
                                      "name": spec["name"]}
                node.update(uploadUrl=self.storage_url("upload", token),
                            uploadHeaders=["Content-MD5:%s" % md5,
                                           "Content-Type: application/octet-stream"],
                            artifact={"id": a["id"]})
            edges.append({"node": node, "cursor": node["id"]})
        return {"files": {"edges": edges, "totalCount": len(edges),
                          "pageInfo": {"hasNextPage": False, "hasPreviousPage": False}}}

    def r_commitArtifact(self, input):
        a = self.pending_artifact(input["artifactID"], "commitArtifact")
        if a["manifestBytes"] is None:
            raise FakeError("commitArtifact: the manifest was not uploaded")
        if md5_b64(a["manifestBytes"]) != a["manifestDigest"]:
            raise FakeError("commitArtifact: the manifest does not match its digest")
        try:
            manifest = json.loads(a["manifestBytes"])
            contents = manifest["contents"]
        except (ValueError, KeyError) as e:
            raise FakeError("commitArtifact: bad manifest: %s" % e)
        if manifest.get("storagePolicy") != "wandb-storage-policy-v1" or \
                manifest.get("version") != 1:
            raise FakeError("commitArtifact: bad manifest storage policy or version")
        if artifact_digest(contents) != a["digest"]:
            raise FakeError("commitArtifact: the manifest's digest %s is not the artifact's %s"
                            % (artifact_digest(contents), a["digest"]))
        for path, entry in contents.items():
            if entry["digest"] not in self.blobs:
                raise FakeError("commitArtifact: file %s never arrived" % path)
            if not entry.get("birthArtifactID"):
                raise FakeError("commitArtifact: %s has no birthArtifactID" % path)
            if len(self.blobs[entry["digest"]]) != entry.get("size"):
                raise FakeError("commitArtifact: %s has the wrong size" % path)
        seq = self.sequence_of(a)
        a["state"] = "COMMITTED"
        a["versionIndex"] = sum(1 for v in seq["versions"] if v["state"] == "COMMITTED") - 1
        a["manifestContents"] = contents
        self.move_aliases(a, list(dict.fromkeys(a["requestedAliases"] + ["latest"])))
        return {"artifact": self.artifact_obj(a)}

    def r_updateArtifact(self, input):
        a = self.artifacts.get(input["artifactID"])
        if a is None or a["state"] != "COMMITTED":
            raise FakeError("updateArtifact: no committed artifact %s" % input["artifactID"])
        if "description" in input:
            a["description"] = input["description"]
        if input.get("metadata") is not None:
            a["metadata"] = input["metadata"]
        return {"artifact": self.artifact_obj(a)}

    def r_addAliases(self, input):
        a = self.artifacts.get(input["artifactID"])
        if a is None or a["state"] != "COMMITTED":
            raise FakeError("addAliases: no committed artifact %s" % input["artifactID"])
        self.move_aliases(a, [x["alias"] for x in input["aliases"]
                              if x["alias"] not in a["aliases"]])
        return {"success": True}

    def push_item(self, q, input):
        if q["deny"]:
            raise FakeError("permission denied: user %s cannot push to run queue %s" % (
                self.entity, q["name"]))
        try:
            spec = json.loads(input["runSpec"])
        except ValueError:
            raise FakeError("runSpec is not JSON")
        if not isinstance(spec, dict):
            raise FakeError("runSpec must be a JSON object")
        item = {"id": self.next_id("RunQueueItem"), "runSpec": input["runSpec"],
                "priority": input.get("priority"),
                "templateVariableValues": input.get("templateVariableValues"),
                "state": "PENDING", "associatedRunId": None, "createdAt": now_iso()}
        q["items"].append(item)
        return {"runQueueItemId": item["id"], "runSpec": input["runSpec"]}

    def r_pushToRunQueueByName(self, input):
        q = self.queues.get((input["entityName"], input["projectName"], input["queueName"]))
        if q is None:
            raise FakeError("run queue %s not found in %s/%s" % (
                input["queueName"], input["entityName"], input["projectName"]))
        return self.push_item(q, input)

    def r_pushToRunQueue(self, input):
        q = next((q for q in self.queues.values() if q["id"] == input["queueID"]), None)
        if q is None:
            raise FakeError("no run queue %s" % input["queueID"])
        return self.push_item(q, input)

    def queue_obj(self, q):
        def item(i):
            return {"id": i["id"], "state": i["state"], "associatedRunId": i["associatedRunId"],
                    "runSpec": i["runSpec"], "priority": i["priority"],
                    "createdAt": i["createdAt"]}
        return {"id": q["id"], "name": q["name"], "access": q["access"],
                "createdBy": q["createdBy"], "entityName": q["entity"],
                "projectName": q["project"],
                "runQueueItem": lambda id: next((item(i) for i in q["items"] if i["id"] == id),
                                                None),
                "runQueueItems": lambda: {"edges": [{"node": item(i)} for i in q["items"]]}}

    def r_project(self, name=None, entityName=None):
        e, p = entityName or self.entity, name
        if not any(k[0] == e and k[1] == p for k in self.sequences) and not any(
                (r["entity"], r["project"]) == (e, p) for r in self.runs.values()) and not any(
                k[0] == e and k[1] == p for k in self.queues):
            return None
        return {"id": node_id("Project", 1), "name": p, "entityName": e,
                "artifactType": lambda name: self.type_obj(e, p, name),
                "artifact": lambda name: self.artifact_obj_or_none(
                    self.artifact_by_name(e, p, name)),
                "artifactCollectionMembership": lambda name: self.membership(e, p, name),
                "run": lambda name: self.run_obj(e, p, name),
                "runQueues": lambda: [self.queue_obj(q) for k, q in sorted(self.queues.items())
                                      if k[0] == e and k[1] == p],
                "runQueue": lambda name: next(
                    (self.queue_obj(q) for k, q in self.queues.items() if k == (e, p, name)),
                    None)}

    def artifact_by_name(self, e, p, ref):
        """A committed version by "<collection>:<alias or vN>" (no alias: latest)."""
        collection, _, selector = ref.partition(":")
        seq = self.sequences.get((e, p, collection))
        if seq is None:
            return None
        selector = selector or "latest"
        for a in seq["versions"]:
            if a["state"] != "COMMITTED":
                continue
            if selector in a["aliases"] or selector == "v%d" % a["versionIndex"]:
                return a
        return None

    def membership(self, e, p, ref):
        a = self.artifact_by_name(e, p, ref)
        if a is None:
            return None
        return {"id": node_id("Membership", 1), "versionIndex": a["versionIndex"],
                "aliases": self.artifact_obj(a)["aliases"], "artifact": self.artifact_obj(a)}

    def artifact_obj_or_none(self, a):
        return self.artifact_obj(a) if a else None

    def r_artifact(self, id):
        a = self.artifacts.get(id)
        return self.artifact_obj(a) if a else None

    # --- objects -------------------------------------------------------------------------------

    def type_obj(self, e, p, t):
        seqs = [s for (se, sp, _), s in sorted(self.sequences.items())
                if se == e and sp == p and s["type"] == t and
                any(v["state"] == "COMMITTED" for v in s["versions"])]
        if not seqs:
            return None
        return {"id": node_id("ArtifactType", 1), "name": t,
                "artifactCollections": lambda **kw: _connection(
                    [self.sequence_obj(s) for s in seqs], kw),
                "artifactCollection": lambda name: next(
                    (self.sequence_obj(s) for s in seqs if s["name"] == name), None)}

    def sequence_obj(self, s):
        committed = [v for v in s["versions"] if v["state"] == "COMMITTED"]
        latest = max(committed, key=lambda v: v["versionIndex"]) if committed else None
        return {"__typename": "ArtifactSequence", "id": s["id"], "name": s["name"],
                "createdAt": s["createdAt"], "state": "READY",
                "project": self.project_ref(s["entity"], s["project"]),
                "latestArtifact": lambda: self.artifact_obj(latest) if latest else None,
                "artifacts": lambda **kw: _connection(
                    [self.artifact_obj(v) for v in sorted(
                        s["versions"], key=lambda v: -(v["versionIndex"] or 0))], kw)}

    def project_ref(self, e, p):
        return {"id": node_id("Project", 1), "name": p, "entityName": e}

    def artifact_obj(self, a):
        def files(names=None, first=None, after=None):
            contents = a.get("manifestContents") or {}
            nodes = [{"id": node_id("File", i), "name": path, "displayName": path,
                      "md5": entry["digest"], "sizeBytes": entry.get("size", 0),
                      "directUrl": self.storage_url("blob", _hex(entry["digest"]))}
                     for i, (path, entry) in enumerate(sorted(contents.items()))
                     if names is None or path in names]
            return _connection(nodes, {"first": first, "after": after})
        return {
            "id": a["id"], "digest": a["digest"], "state": a["state"],
            "versionIndex": a["versionIndex"], "description": a["description"],
            "metadata": a["metadata"], "createdAt": a["createdAt"],
            "aliases": [{"id": node_id("Alias", 1), "alias": x,
                         "artifactCollectionName": a["collection"],
                         "artifactCollection": lambda: self.sequence_obj(self.sequence_of(a))}
                        for x in a["aliases"]],
            # What W&B's SDK reads of a version besides (public API, ArtifactFragment).
            "artifactType": {"id": node_id("ArtifactType", 1), "name": a["type"]},
            "ttlDurationSeconds": -1, "ttlIsInherited": True, "tags": [],
            "commitHash": a["digest"][:20], "fileCount": len(a.get("manifestContents") or {}),
            "updatedAt": a["createdAt"],
            "artifactSequence": lambda: self.sequence_obj(self.sequence_of(a)),
            "currentManifest": ({"id": a["manifest"]["id"], "file": {
                "directUrl": self.storage_url("manifest", _urlsafe(a["id"]))}}
                if a["state"] == "COMMITTED" else None),
            "files": files,
            # The runs that used this version, in the order they did (useArtifact).
            "usedBy": lambda **kw: _connection(
                [self.run_obj(u["entity"], u["project"], u["run"]) for u in self.usage
                 if u["artifact"] == a["id"]], kw),
        }


def _file_stream_problem(body):
    """Why a file_stream body is not the SDK's shape, or "" (FileStreamRequestJSON)."""
    if not isinstance(body, dict):
        return "the body is not a JSON object"
    unknown = set(body) - {"files", "uploaded", "preempting", "complete", "exitcode"}
    if unknown:
        return "unknown keys %s" % sorted(unknown)
    for path, chunk in (body.get("files") or {}).items():
        if not isinstance(chunk, dict) or set(chunk) != {"offset", "content"} or \
                not isinstance(chunk["offset"], int) or not isinstance(chunk["content"], list) \
                or not all(isinstance(x, str) for x in chunk["content"]):
            return "files[%r] is not {offset: int, content: [string]}" % path
    if "complete" in body and ("exitcode" not in body or not isinstance(body["exitcode"], int)):
        return "complete without an integer exitcode"
    return ""


def _hex(b64):
    return base64.b64decode(b64).hex()


def _urlsafe(text):
    return urllib.parse.quote(text, safe="")


def _connection(nodes, kw):
    start = int(kw.get("after") or 0)
    first = kw.get("first") or len(nodes)
    page = nodes[start:start + first]
    end = start + len(page)
    return {"totalCount": len(nodes),
            "pageInfo": {"hasNextPage": end < len(nodes), "hasPreviousPage": start > 0,
                         "startCursor": str(start), "endCursor": str(end)},
            "edges": [{"node": n, "cursor": str(start + i + 1)} for i, n in enumerate(page)]}


def _included(sel, variables):
    for d in getattr(sel, "directives", None) or []:
        value = value_from_ast_untyped(d.arguments[0].value, variables) if d.arguments else True
        if d.name.value == "include" and not value:
            return False
        if d.name.value == "skip" and value:
            return False
    return True


def _select(value, selection_set, variables, fragments=None):
    """The part of `value` a selection set asks for: what a GraphQL server returns. Fragments
    (named or inline) apply whatever their type condition (the fake's values are untyped)."""
    if callable(value):
        value = value()
    if selection_set is None or value is None:
        return value
    if isinstance(value, list):
        return [_select(v, selection_set, variables, fragments) for v in value]
    out = {}
    for sel in selection_set.selections:
        if not _included(sel, variables):
            continue
        if isinstance(sel, graphql.InlineFragmentNode):
            out.update(_select(value, sel.selection_set, variables, fragments))
            continue
        if isinstance(sel, graphql.FragmentSpreadNode):
            out.update(_select(value, fragments[sel.name.value].selection_set, variables,
                               fragments))
            continue
        name = sel.name.value
        key = sel.alias.value if sel.alias else name
        if name == "__typename":
            out[key] = value.get("__typename", "")
            continue
        field = value.get(name)
        if callable(field):
            args = {a.name.value: value_from_ast_untyped(a.value, variables)
                    for a in sel.arguments}
            field = field(**args)
        out[key] = _select(field, sel.selection_set, variables, fragments)
    return out


class _Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        if os.environ.get("FAKE_WANDB_VERBOSE"):
            super().handle_error(request, client_address)


class _Handler(http.server.BaseHTTPRequestHandler):
    server_fake = None
    protocol_version = "HTTP/1.1"

    def handle(self):
        fake = self.server_fake
        with fake.lock:
            fake.in_flight += 1
        try:
            super().handle()
        finally:
            with fake.lock:
                fake.in_flight -= 1

    def log_message(self, fmt, *args):
        if os.environ.get("FAKE_WANDB_VERBOSE"):
            sys.stderr.write("fake-wandb: " + fmt % args + "\n")

    def reply(self, status, body, headers=None, content_type="application/json"):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def parse_request(self):
        # One handler serves every request of a keep-alive connection: forget the last body.
        # (Keying the cache on id(self.headers) broke when a new headers object reused the id of
        # the previous one: the new body went unread and was parsed as the next request line.)
        self._body = None
        return super().parse_request()

    def read_body(self):
        """The request body, read once."""
        if self._body is None:
            n = int(self.headers.get("Content-Length") or 0)
            self._body = self.rfile.read(n) if n else b""
        return self._body

    def apply_fault(self, where):
        """True when the fault answered the request (the caller stops)."""
        f = self.server_fake.take_fault(where)
        if f is None:
            return False
        if f.kind == "slow":
            time.sleep(f.delay)
            return False
        if f.kind == "stall":
            self.read_body()
            with self.server_fake.lock:
                self.server_fake.stalled += 1
            self.server_fake.stall_release.wait()
            with self.server_fake.lock:
                self.server_fake.stalled -= 1
            self.close_connection = True
            return True
        if f.kind == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return True
        headers = {"Retry-After": str(f.retry_after)} if f.retry_after is not None else {}
        self.read_body()
        self.reply(f.status, f.body or {"errors": [{"message": "injected HTTP %d" % f.status}]},
                   headers)
        return True

    def authorized(self):
        if self.server_fake.check_auth(self.headers.get("Authorization", "")):
            return True
        self.read_body()
        self.reply(401, {"errors": [{"message": "invalid API key"}]})
        return False

    def do_POST(self):
        fake = self.server_fake
        path = urllib.parse.urlparse(self.path).path
        if path == "/graphql":
            body = self.read_body()
            try:
                request = json.loads(body)
            except ValueError:
                return self.reply(400, {"errors": [{"message": "body is not JSON"}]})
            if self.apply_fault("graphql:%s" % request.get("operationName")):
                return
            if not self.server_fake.check_auth(self.headers.get("Authorization", "")):
                return self.reply(401, {"errors": [{"message": "invalid API key"}]})
            status, reply = fake.graphql(request)
            return self.reply(status, reply)
        m = re.match(r"^/files/([^/]+)/([^/]+)/([^/]+)/file_stream$", path)
        if m:
            with fake.lock:
                fake.writes.append("POST " + path)
            if self.apply_fault("file_stream") or not self.authorized():
                return
            body = json.loads(self.read_body() or b"{}")
            problem = _file_stream_problem(body)
            if problem:
                return self.reply(400, {"error": problem})
            with fake.lock:
                if fake.find_run(*(urllib.parse.unquote(g) for g in m.groups())) is None:
                    return self.reply(404, {"error": "no such run"})
                fake.file_streams.append(tuple(urllib.parse.unquote(g) for g in m.groups()) +
                                         (body,))
            return self.reply(200, {"exitcode": None, "limits": {}})
        self.read_body()
        self.reply(404, {"errors": [{"message": "no route %s" % path}]})

    def do_PUT(self):
        fake = self.server_fake
        with fake.lock:
            fake.writes.append("PUT " + urllib.parse.urlparse(self.path).path)
        m = re.match(r"^/storage/upload/(.+)$", urllib.parse.urlparse(self.path).path)
        if not m:
            self.read_body()
            return self.reply(404, b"no such upload", content_type="text/plain")
        token = urllib.parse.unquote(m.group(1))
        with fake.lock:
            t = fake.tokens.get(token)
        if t is None:
            self.read_body()
            return self.reply(404, b"unknown upload URL", content_type="text/plain")
        if self.apply_fault("put:%s" % t["kind"]):
            return
        if "Authorization" in self.headers:
            self.read_body()
            with fake.lock:
                fake.storage_auth_rejected += 1
            return self.reply(400, b"presigned URLs take no Authorization header",
                              content_type="text/plain")
        if self.headers.get("Transfer-Encoding"):
            return self.reply(411, b"Content-Length required", content_type="text/plain")
        if t["kind"] == "run-file":
            data = self.read_body()
            with fake.lock:
                fake.puts.append({"kind": t["kind"], "name": t["name"], "size": len(data)})
                fake.runs[t["run"]]["run_files"][t["name"]] = data
            return self.reply(200, b"", content_type="text/plain")
        data = self.read_body()
        sent_md5 = self.headers.get("Content-MD5")
        if sent_md5 != t["md5"]:
            return self.reply(400, b"Content-MD5 header missing or not the signed one",
                              content_type="text/plain")
        if md5_b64(data) != t["md5"]:
            return self.reply(400, b"BadDigest: the content does not match Content-MD5",
                              content_type="text/plain")
        with fake.lock:
            fake.puts.append({"kind": t["kind"], "name": t["name"], "size": len(data)})
            if t["kind"] == "file":
                fake.blobs[t["md5"]] = data
                fake.blobs_birth.setdefault(t["md5"], t["artifact"])
            else:
                a = fake.artifacts[t["artifact"]]
                if a["manifestDigest"] == t["md5"]:
                    a["manifestBytes"] = data
        self.reply(200, b"", {"ETag": '"%s"' % _hex(t["md5"])}, content_type="text/plain")

    def do_GET(self):
        fake = self.server_fake
        path = urllib.parse.urlparse(self.path).path
        if self.apply_fault("get"):
            return
        m = re.match(r"^/storage/(blob|manifest)/(.+)$", path)
        if m:
            key = urllib.parse.unquote(m.group(2))
            with fake.lock:
                if m.group(1) == "blob":
                    data = fake.blobs.get(base64.b64encode(bytes.fromhex(key)).decode())
                else:
                    a = fake.artifacts.get(key)
                    data = a["manifestBytes"] if a else None
            if data is None:
                return self.reply(404, b"not found", content_type="text/plain")
            return self.reply(200, data, content_type="application/octet-stream")
        self.reply(404, b"not found", content_type="text/plain")


def main():
    parser = argparse.ArgumentParser(description="fake W&B server")
    parser.add_argument("--key", required=True)
    parser.add_argument("--schema")
    parser.add_argument("--port-file")
    args = parser.parse_args()
    fake = FakeWandb(args.key, args.schema).start()
    if args.port_file:
        with open(args.port_file, "w") as f:
            f.write(fake.url + "\n")
    print(fake.url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fake.stop()


if __name__ == "__main__":
    main()
