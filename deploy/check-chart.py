#!/usr/bin/env python3
"""Render the Helm chart for every region offline and check what comes out.

    python3 deploy/check-chart.py --venv target/chart-venv --meridian target/debug/meridian

For each region with a `deploy/helm/meridian/values-<id>.yaml`:

1. render the chart with helm-python-sdk (the Helm v4 engine, no cluster, no
   helm binary) and that values file, which also checks values.schema.json,
   and `helm lint --strict` it;
2. validate every manifest with `kubernetes-validate --strict` against the
   oldest and newest Kubernetes versions we support (an unknown kind fails too);
3. compare the rendered NetworkPolicy's egress with the region's config, read
   here from `regions/<id>.toml` independently of the Rust code that generated
   the values: DNS, then exactly the model endpoints, allow-list entries, SMTP
   relay and database, each on its ports; and check the policy selects the
   server, worker and run pods;
4. check the rest of the contract: the CronJob's schedule and timezone, probes,
   the pods' security context, secrets only by reference, the ConfigMaps
   holding the region file and its policies, the in-cluster Ollama pulling the
   region's models.

With `--meridian BIN` it also generates a production variant of each region
(PostgreSQL and an SMTP relay in the region file) with `meridian deploy values`,
renders it with the worker and an Ingress on, runs the same checks, and has
`meridian config check` load each deployed region file as a pod would.

With `--venv DIR` it first installs its two tools (pinned in
deploy/requirements-chart.txt) into that virtualenv and runs there.
Exit status 1 names every mismatch.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parent.parent
CHART = ROOT / "deploy" / "helm" / "meridian"
REQUIREMENTS = ROOT / "deploy" / "requirements-chart.txt"
# Oldest with a stable CronJob timeZone in our range, and the newest the
# validator ships schemas for.
KUBE_VERSIONS = ["1.33.0", "1.37.0"]
OLLAMA_PORT = 11434
WEB_PORTS = [80, 443]
ROLES = ["insight", "transcribe", "embed", "translate"]
# Ranges the `public` peer must leave out: private, loopback, link-local
# (cloud metadata), CGNAT; IPv6 unique-local, link-local, loopback.
MUST_EXCLUDE = {
    "0.0.0.0/0": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "169.254.0.0/16", "100.64.0.0/10"],
    "::/0": ["::1/128", "fc00::/7", "fe80::/10"],
}


# --- setup -------------------------------------------------------------------


def ensure_tools(venv: Path) -> None:
    """Re-run this script inside `venv`, with the pinned tools installed there."""
    if os.environ.get("MERIDIAN_CHART_VENV_ACTIVE") == str(venv):
        return
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pins = [l.split("#")[0].strip() for l in REQUIREMENTS.read_text().splitlines()]
    pins = [p for p in pins if p]
    probe = "import importlib.metadata as m, sys; sys.exit(0 if all(m.version(p.split('==')[0]) == p.split('==')[1] for p in sys.argv[1:]) else 1)"
    if subprocess.run([str(python), "-c", probe, *pins], capture_output=True).returncode != 0:
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", str(REQUIREMENTS)],
            check=True,
        )
    env = dict(os.environ, MERIDIAN_CHART_VENV_ACTIVE=str(venv))
    os.execve(str(python), [str(python), str(Path(__file__).resolve()), *sys.argv[1:]], env)


# --- the region's config, read independently ---------------------------------


def bare(host: str) -> str:
    return host.strip("[]").lower()


def is_loopback(host: str) -> bool:
    h = bare(host)
    try:
        ip = ipaddress.ip_address(h)
        return ip.is_loopback or ip.is_unspecified
    except ValueError:
        h = h.rstrip(".")
        return h == "localhost" or h.endswith(".localhost")


def split_host_port(entry: str) -> tuple[str, int | None]:
    e = entry.strip()
    if e.startswith("[") and "]" in e:
        host, _, after = e[1:].partition("]")
        return host, int(after[1:]) if after.startswith(":") else None
    if e.count(":") == 1:
        host, port = e.split(":")
        return host, int(port)
    return e, None


def url_host_port(url: str, default: int) -> tuple[str, int]:
    u = urlsplit(url)
    return u.hostname or "", u.port or default


def place(host: str, service: str | None, database: bool) -> tuple[str, list[str]]:
    """(to, cidrs) for a destination, as docs/operations.md describes it."""
    h = bare(host)
    if service and h == service:
        return "ollama", []
    try:
        ip = ipaddress.ip_address(h)
        return "cidrs", [f"{ip}/{32 if ip.version == 4 else 128}"]
    except ValueError:
        pass
    name = h.removeprefix("*.").rstrip(".")
    if "." not in name or name.endswith(".svc") or name.endswith(".cluster.local"):
        return "cluster", []
    return ("any", []) if database else ("public", [])


class Expected:
    """What a region's deployment must look like, from its region file."""

    def __init__(self, region_file: Path, storage_url: str | None = None):
        self.path = region_file
        self.cfg = tomllib.loads(region_file.read_text())
        self.id = self.cfg["id"]
        self.service = f"meridian-{self.id}-ollama"
        self.storage_url = storage_url or self.cfg.get("storage", {}).get("url", "")
        self.pulls: list[str] = []
        moved_ports: set[int] = set()
        endpoints = []  # (host, port, purpose)
        for role in ROLES:
            for m in self.cfg.get("models", {}).get(role, []):
                if m.get("provider") == "builtin" or not m.get("endpoint"):
                    continue
                u = urlsplit(m["endpoint"])
                host, port = u.hostname, u.port or (443 if u.scheme == "https" else 80)
                purpose = f"model `{m['name']}` ({role})"
                if m["provider"] == "ollama" and is_loopback(host):
                    moved_ports.add(port)
                    if m["model"] not in self.pulls:
                        self.pulls.append(m["model"])
                    endpoints.append((self.service, OLLAMA_PORT, purpose))
                else:
                    endpoints.append((host, port, purpose))
        allow = []
        placed = False
        for entry in self.cfg.get("egress", {}).get("allow", []):
            host, port = split_host_port(entry)
            if is_loopback(host) and moved_ports and (port is None or port in moved_ports):
                if not placed:
                    allow.append(f"{self.service}:{OLLAMA_PORT}")
                    placed = True
            else:
                allow.append(entry)
        self.allow = allow
        rules: dict[tuple[str, str], dict] = {}

        def add(host: str, ports: list[int], purpose: str, database: bool = False) -> None:
            to, cidrs = ("public", []) if host == "*" else place(host, self.service if self.pulls else None, database)
            r = rules.setdefault((bare(host), to), {"host": bare(host), "to": to, "cidrs": cidrs, "ports": set(), "purposes": []})
            r["ports"].update(ports)
            r["purposes"].append(purpose)

        for entry in allow:
            host, port = split_host_port(entry)
            add(host, [port] if port else WEB_PORTS, f"egress.allow `{entry}`")
        for host, port, purpose in endpoints:
            add(host, [port], purpose)
        smtp = self.cfg.get("mail", {}).get("smtp_url", "")
        if smtp:
            u = urlsplit(smtp)
            tls = parse_qs(u.query).get("tls", [None])[0]
            default = 465 if u.scheme == "smtps" else (25 if tls is None else 587)
            add(u.hostname, [u.port or default], "mail.smtp_url")
        self.postgres = self.storage_url.startswith(("postgres://", "postgresql://"))
        if self.postgres:
            host, port = url_host_port(self.storage_url, 5432)
            add(host, [port], "storage.url", database=True)
        self.rules = rules

    def secret_vars(self) -> dict[str, bool]:
        """Variable → optional, for every secret the region names."""
        out: dict[str, bool] = {}
        for role in ROLES:
            for m in self.cfg.get("models", {}).get(role, []):
                if m.get("api_key_env"):
                    out[m["api_key_env"]] = True
        mail = self.cfg.get("mail", {})
        if mail.get("smtp_url") and mail.get("password_env"):
            out[mail["password_env"]] = False
        prefix = f"MERIDIAN_{self.id.upper().replace('-', '_')}__"
        token = self.cfg.get("server", {}).get("token_secret_env") or f"{prefix}SERVER__TOKEN_SECRET"
        out[token] = False
        out[f"{prefix}AUDIT__SIGNING_KEY"] = False
        if self.postgres:
            out[f"{prefix}STORAGE__URL"] = False
        return out


# --- checks on rendered manifests ---------------------------------------------


class Report:
    def __init__(self) -> None:
        self.failures: list[str] = []

    def check(self, ok: bool, what: str) -> bool:
        if not ok:
            self.failures.append(what)
        return ok


def classify_peers(rule: dict) -> tuple[str, list[str]]:
    if "to" not in rule:
        return "any", []
    peers = rule["to"]
    if all("ipBlock" in p for p in peers):
        blocks = {p["ipBlock"]["cidr"]: p["ipBlock"].get("except", []) for p in peers}
        if set(blocks) == set(MUST_EXCLUDE) and all(set(MUST_EXCLUDE[c]) <= set(blocks[c]) for c in blocks):
            return "public", []
        if all(not e for e in blocks.values()):
            return "cidrs", sorted(blocks)
    if peers == [{"namespaceSelector": {}}]:
        return "cluster", []
    if len(peers) == 1 and set(peers[0]) == {"podSelector"}:
        labels = peers[0]["podSelector"].get("matchLabels", {})
        if labels.get("app.kubernetes.io/component") == "ollama":
            return "ollama", []
    return "unrecognised " + json.dumps(peers), []


def selects(selector: dict, labels: dict) -> bool:
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for e in selector.get("matchExpressions", []):
        if e["operator"] == "In" and labels.get(e["key"]) not in e["values"]:
            return False
    return True


def pod_templates(docs: list[dict]) -> dict[str, dict]:
    """Component → pod template of every workload."""
    out = {}
    for d in docs:
        if d["kind"] in ("Deployment", "StatefulSet", "Job"):
            t = d["spec"]["template"]
        elif d["kind"] == "CronJob":
            t = d["spec"]["jobTemplate"]["spec"]["template"]
        else:
            continue
        out[t["metadata"]["labels"]["app.kubernetes.io/component"]] = t
    return out


def check_network_policy(r: Report, name: str, exp: Expected, docs: list[dict]) -> None:
    nps = [d for d in docs if d["kind"] == "NetworkPolicy" and d["metadata"]["name"] == f"meridian-{exp.id}"]
    if not r.check(len(nps) == 1, f"{name}: one NetworkPolicy for the Meridian pods, found {len(nps)}"):
        return
    np = nps[0]
    spec = np["spec"]
    r.check(spec.get("policyTypes") == ["Egress"], f"{name}: NetworkPolicy policyTypes is {spec.get('policyTypes')}")
    pods = pod_templates(docs)
    for comp in ("server", "run", "worker"):
        if comp in pods:
            r.check(selects(spec["podSelector"], pods[comp]["metadata"]["labels"]), f"{name}: NetworkPolicy does not select the {comp} pods")
    for comp in ("ollama", "ollama-pull"):
        if comp in pods:
            r.check(not selects(spec["podSelector"], pods[comp]["metadata"]["labels"]), f"{name}: NetworkPolicy selects the {comp} pods")
    rules = spec["egress"]
    purposes = json.loads(np["metadata"]["annotations"]["meridian-kit.github.io/egress-rules"])
    if not r.check(len(purposes) == len(rules), f"{name}: the egress-rules annotation lists {len(purposes)} rules, the policy has {len(rules)}"):
        return
    dns = rules[0]
    dns_ok = (
        sorted((p["protocol"], p["port"]) for p in dns.get("ports", [])) == [("TCP", 53), ("UDP", 53)]
        and len(dns.get("to", [])) == 1
        and dns["to"][0].get("namespaceSelector", {}).get("matchLabels") == {"kubernetes.io/metadata.name": "kube-system"}
        and dns["to"][0].get("podSelector", {}).get("matchLabels") == {"k8s-app": "kube-dns"}
    )
    r.check(dns_ok, f"{name}: the first egress rule is not DNS (kube-dns, UDP and TCP 53): {json.dumps(dns)}")
    rendered = {}
    for purpose, rule in zip(purposes[1:], rules[1:]):
        host = bare(purpose.split(": ", 1)[0])
        to, cidrs = classify_peers(rule)
        ports = sorted(p["port"] for p in rule.get("ports", []))
        r.check(all(p.get("protocol") == "TCP" for p in rule.get("ports", [])), f"{name}: rule for {host} is not TCP-only")
        r.check((host, to) not in rendered, f"{name}: two rules for {host} ({to})")
        rendered[(host, to)] = {"ports": ports, "cidrs": cidrs}
    for key, want in exp.rules.items():
        got = rendered.get(key)
        label = f"{key[0]} ({key[1]}), needed by {'; '.join(want['purposes'])}"
        if not r.check(got is not None, f"{name}: NetworkPolicy lacks egress to {label} (from {exp.path.name})"):
            continue
        r.check(got["ports"] == sorted(want["ports"]), f"{name}: egress to {label}: ports {got['ports']}, config says {sorted(want['ports'])}")
        r.check(got["cidrs"] == sorted(want["cidrs"]), f"{name}: egress to {label}: cidrs {got['cidrs']}, config says {want['cidrs']}")
    for key in rendered.keys() - exp.rules.keys():
        r.check(False, f"{name}: NetworkPolicy allows egress to {key[0]} ({key[1]}) on {rendered[key]['ports']}, which {exp.path.name} does not name")


def check_workloads(r: Report, name: str, exp: Expected, docs: list[dict], values: dict) -> None:
    kinds = [d["kind"] for d in docs]
    r.check("Secret" not in kinds, f"{name}: the chart renders a Secret; secrets must be references only")
    by = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    full = f"meridian-{exp.id}"
    dep = by.get(("Deployment", full))
    if r.check(dep is not None, f"{name}: no Deployment {full}"):
        c = dep["spec"]["template"]["spec"]["containers"][0]
        r.check(c["args"] == ["serve", "--region", exp.id, "--listen", "0.0.0.0:8080"], f"{name}: server args {c['args']}")
        r.check(c.get("livenessProbe", {}).get("httpGet", {}).get("path") == "/healthz", f"{name}: liveness probe is not /healthz")
        r.check(c.get("readinessProbe", {}).get("httpGet", {}).get("path") == "/readyz", f"{name}: readiness probe is not /readyz")
        r.check(dep["spec"]["replicas"] == values["server"]["replicas"], f"{name}: replicas")
    cron = by.get(("CronJob", f"{full}-run"))
    if r.check(cron is not None, f"{name}: no CronJob {full}-run"):
        s = cron["spec"]
        want = f"0 {exp.cfg['digest_hour']} * * *"
        r.check(s["schedule"] == want, f"{name}: CronJob schedule {s['schedule']!r}, digest_hour says {want!r}")
        r.check(s.get("timeZone") == exp.cfg["timezone"], f"{name}: CronJob timeZone {s.get('timeZone')!r}, region says {exp.cfg['timezone']!r}")
        r.check(s.get("concurrencyPolicy") == "Forbid", f"{name}: CronJob concurrencyPolicy is not Forbid")
        args = s["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"]
        r.check(args == ["run", "--region", exp.id], f"{name}: run args {args}")
    sa = [d for d in docs if d["kind"] == "ServiceAccount"]
    r.check(all(d.get("automountServiceAccountToken") is False for d in sa), f"{name}: a ServiceAccount automounts its token")
    r.check(any(d["kind"] == "PodDisruptionBudget" for d in docs), f"{name}: no PodDisruptionBudget")
    r.check(any(d["kind"] == "Service" and d["metadata"]["name"] == full for d in docs), f"{name}: no Service {full}")
    want_secrets = exp.secret_vars()
    for comp, t in pod_templates(docs).items():
        spec = t["spec"]
        r.check(spec.get("automountServiceAccountToken") is False, f"{name}: {comp} pods automount a token")
        psc = spec.get("securityContext", {})
        r.check(psc.get("runAsNonRoot") is True and psc.get("seccompProfile", {}).get("type") == "RuntimeDefault",
                f"{name}: {comp} pod securityContext {psc}")
        for c in spec["containers"]:
            sc = c.get("securityContext", {})
            hardened = (
                sc.get("allowPrivilegeEscalation") is False
                and sc.get("readOnlyRootFilesystem") is True
                and sc.get("capabilities", {}).get("drop") == ["ALL"]
                and sc.get("seccompProfile", {}).get("type") == "RuntimeDefault"
            )
            r.check(hardened, f"{name}: {comp}/{c['name']} securityContext is not hardened: {sc}")
            r.check("resources" in c and c["resources"].get("requests"), f"{name}: {comp}/{c['name']} has no resource requests")
            mounts = {m["mountPath"] for m in c.get("volumeMounts", [])}
            r.check("/tmp" in mounts, f"{name}: {comp}/{c['name']} has no writable /tmp")
            if comp in ("server", "worker", "run"):
                env = {e["name"]: e for e in c.get("env", [])}
                for var, optional in want_secrets.items():
                    e = env.get(var)
                    if r.check(e is not None and "secretKeyRef" in e.get("valueFrom", {}), f"{name}: {comp} lacks {var} from a Secret"):
                        ref = e["valueFrom"]["secretKeyRef"]
                        r.check(ref.get("optional") is optional, f"{name}: {comp}: {var} optional={ref.get('optional')}, want {optional}")
                r.check(all("value" not in e or not e["name"].endswith(("_KEY", "PASSWORD", "__URL")) for e in env.values()),
                        f"{name}: {comp} has a secret-looking variable with a literal value")
                r.check(env.get("MERIDIAN_CONFIG_DIR", {}).get("value") == "/etc/meridian/regions", f"{name}: {comp} MERIDIAN_CONFIG_DIR")


def check_config_maps(r: Report, name: str, exp: Expected, docs: list[dict], policies_dir: Path) -> dict[str, str]:
    """Checks the region and policy ConfigMaps; returns the deployed config dir's files."""
    by = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ConfigMap"}
    region = by.get(f"meridian-{exp.id}-region", {}).get("data", {})
    policies = by.get(f"meridian-{exp.id}-policies", {}).get("data") or {}
    deployed = region.get(f"{exp.id}.toml")
    if not r.check(deployed is not None, f"{name}: the region ConfigMap has no {exp.id}.toml"):
        return {}
    original = exp.path.read_text()
    if exp.pulls:
        got = tomllib.loads(deployed)
        want = tomllib.loads(original)
        for role in ROLES:
            for m in want.get("models", {}).get(role, []):
                if m.get("provider") == "ollama" and is_loopback(urlsplit(m["endpoint"]).hostname):
                    m["endpoint"] = f"http://{exp.service}:{OLLAMA_PORT}"
        want["egress"]["allow"] = exp.allow
        r.check(got == want, f"{name}: the deployed {exp.id}.toml is not {exp.path.name} with its Ollama moved in-cluster")
    else:
        r.check(deployed == original, f"{name}: the deployed {exp.id}.toml differs from {exp.path}")
    opml = exp.cfg.get("feeds", {}).get("opml")
    if opml:
        r.check(region.get(opml.replace("/", "__")) == (exp.path.parent / opml).read_text(), f"{name}: the deployed {opml} differs")
    want_policies = {}
    if policies_dir.is_dir():
        for p in sorted(policies_dir.rglob("*")):
            rel = p.relative_to(policies_dir)
            top = rel.parts[0]
            if p.is_file() and not p.name.endswith(".md") and not p.name.startswith(".") and (len(rel.parts) == 1 or top in ("global", exp.id)):
                want_policies[str(rel).replace("/", "__")] = p.read_text()
    r.check(policies == want_policies,
            f"{name}: policy ConfigMap holds {sorted(policies)}, policies/ has {sorted(want_policies)} for {exp.id}")
    files = {k.replace("__", "/"): v for k, v in region.items()}
    files.update({"../policies/" + k.replace("__", "/"): v for k, v in policies.items()})
    return files


def check_ollama(r: Report, name: str, exp: Expected, docs: list[dict]) -> None:
    pods = pod_templates(docs)
    if not exp.pulls:
        r.check("ollama" not in pods, f"{name}: an Ollama is deployed but no model needs one")
        return
    if not r.check("ollama" in pods and "ollama-pull" in pods, f"{name}: {exp.pulls} need an in-cluster Ollama and a pull Job"):
        return
    svc = [d for d in docs if d["kind"] == "Service" and d["metadata"]["name"] == exp.service]
    if r.check(len(svc) == 1, f"{name}: no Service {exp.service} for the region file's endpoints"):
        r.check(selects({"matchLabels": svc[0]["spec"]["selector"]}, pods["ollama"]["metadata"]["labels"]), f"{name}: Service {exp.service} does not select the Ollama pods")
        r.check([p["port"] for p in svc[0]["spec"]["ports"]] == [OLLAMA_PORT], f"{name}: Service {exp.service} ports")
    sts = [d for d in docs if d["kind"] == "StatefulSet"]
    r.check(len(sts) == 1 and sts[0]["spec"].get("volumeClaimTemplates"), f"{name}: Ollama has no persistent volume")
    args = pods["ollama-pull"]["spec"]["containers"][0]["args"]
    r.check(args[2:] == exp.pulls, f"{name}: the pull Job pulls {args[2:]}, the region's Ollama models are {exp.pulls}")


def render(helm, chart, values: dict, release: str) -> list[dict]:
    import yaml

    manifests = chart.render(values, name=release, namespace=release, is_install=True)
    docs = []
    for path, text in sorted(manifests.items()):
        if path.endswith("NOTES.txt"):
            continue
        for d in yaml.safe_load_all(text):
            if d:
                d["__source"] = path
                docs.append(d)
    return docs


def validate(r: Report, rendered: dict[str, list[dict]], workdir: Path) -> None:
    import yaml

    files = []
    for name, docs in rendered.items():
        f = workdir / f"{name}.yaml"
        clean = [{k: v for k, v in d.items() if k != "__source"} for d in docs]
        f.write_text(yaml.safe_dump_all(clean, sort_keys=False))
        files.append(str(f))
    cmd = [sys.executable, "-m", "kubernetes_validate", "--strict", "--quiet"]
    for v in KUBE_VERSIONS:
        cmd += ["-k", v]
    p = subprocess.run(cmd + files, capture_output=True, text=True)
    out = (p.stdout + p.stderr).strip()
    r.check(p.returncode == 0 and "WARN" not in out, f"kubernetes-validate --strict {' '.join('-k ' + v for v in KUBE_VERSIONS)}:\n{out}")
    count = sum(len(d) for d in rendered.values())
    print(f"kubernetes-validate --strict: {count} manifests x {len(KUBE_VERSIONS)} versions ({', '.join(KUBE_VERSIONS)})")


def production_variant(meridian: Path, workdir: Path, region_file: Path) -> tuple[Path, dict, str]:
    """A copy of the region with PostgreSQL and an SMTP relay, and its generated values."""
    rid = region_file.stem
    cfg_dir = workdir / "prod" / "regions"
    cfg_dir.mkdir(parents=True, exist_ok=True)
    if not (workdir / "prod" / "policies").exists() and (ROOT / "policies").is_dir():
        shutil.copytree(ROOT / "policies", workdir / "prod" / "policies")
    # One of each kind of database address: an IP, a cluster Service, a DNS name.
    db = {"us": "postgres://meridian@10.20.0.5:6543/meridian_us",
          "eu": "postgres://meridian@pg.meridian-eu.svc.cluster.local/meridian_eu",
          }.get(rid, f"postgres://meridian@db.{rid}.example.com:5433/meridian_{rid}")
    smtp = {"us": "smtps://digest%40us.example.com@smtp.us.example.com",
            "eu": "smtp://relay.eu.example.com?tls=required"}.get(rid, f"smtps://relay.{rid}.example.com:2465")
    text = region_file.read_text()
    lines = []
    section = None
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("["):
            section = s
        if section == "[storage]" and s.startswith("url ="):
            line = f'url = "{db}"'
        if section == "[mail]" and s.startswith("smtp_url ="):
            line = f'smtp_url = "{smtp}"\npassword_env = "SMTP_PASSWORD_{rid.upper()}"'
        if section == "[egress]" and s.startswith("allow = ["):
            # A relay must be named in the allow-list (`*` covers feeds only).
            relay = urlsplit(smtp).hostname
            line = line.replace("allow = [", f'allow = ["{relay}", ', 1)
        lines.append(line)
    (cfg_dir / region_file.name).write_text("\n".join(lines) + "\n")
    opml = tomllib.loads(text).get("feeds", {}).get("opml")
    if opml:
        shutil.copy(region_file.parent / opml, cfg_dir / opml)
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("MERIDIAN_")}
    p = subprocess.run([str(meridian), "--config-dir", str(cfg_dir), "deploy", "values", "--region", rid],
                       capture_output=True, text=True, env=env)
    if p.returncode != 0:
        raise SystemExit(f"meridian deploy values --region {rid} (production variant) failed:\n{p.stderr}")
    return cfg_dir / region_file.name, tomllib.loads(text), p.stdout


def config_check(r: Report, meridian: Path, name: str, rid: str, files: dict[str, str], workdir: Path) -> None:
    """`meridian config check` on the region files exactly as the pod sees them."""
    root = workdir / "pod" / name
    cfg = root / "etc" / "regions"
    for rel, text in files.items():
        target = (cfg / rel).resolve()
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("MERIDIAN_")}
    # The link-signing secret the pod gets from its Kubernetes Secret (config
    # check requires it of a region on PostgreSQL).
    env[f"MERIDIAN_{rid.upper()}__SERVER__TOKEN_SECRET"] = "chart-check-secret-of-at-least-32-characters"
    p = subprocess.run([str(meridian), "--config-dir", str(cfg), "--data-dir", str(root / "data"), "config", "check"],
                       capture_output=True, text=True, env=env)
    r.check(p.returncode == 0, f"{name}: `meridian config check` refuses the deployed region file:\n{p.stdout}{p.stderr}")


def check_dockerfile(r: Report, chart) -> None:
    """The image and the chart agree on paths and user."""
    text = (ROOT / "deploy" / "Dockerfile").read_text()
    defaults = chart.values
    for want in (
        "MERIDIAN_CONFIG_DIR=/etc/meridian/regions",
        f"MERIDIAN_DATA_DIR={defaults['storage']['dataDir']}",
        f"USER {defaults['podSecurity']['runAsUser']}:{defaults['podSecurity']['runAsGroup']}",
        "cargo build --release --locked --bin meridian",
        "FROM gcr.io/distroless/cc-debian12:nonroot",
    ):
        r.check(want in text, f"deploy/Dockerfile does not say {want!r}, which the chart relies on")
    r.check((ROOT / ".dockerignore").is_file(), "no .dockerignore beside the build context")


def expect_failure(r: Report, helm, chart, values: dict, needle: str, what: str) -> None:
    try:
        chart.render(values, name="meridian-x", namespace="meridian-x")
    except helm.HelmError as e:
        r.check(needle in str(e), f"{what}: failed, but without saying {needle!r}: {e}")
        return
    r.check(False, f"{what}: rendered, but must fail with {needle!r}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--venv", type=Path, help="install the pinned tools into this virtualenv and run there")
    ap.add_argument("--meridian", type=Path, help="the meridian binary: also check production variants and `config check`")
    args = ap.parse_args()
    if args.venv:
        ensure_tools(args.venv.resolve())

    import copy

    import helm_python as helm

    r = Report()
    chart = helm.Chart.load(str(CHART))
    regions = sorted(p.stem.removeprefix("values-") for p in CHART.glob("values-*.yaml"))
    r.check(regions != [], f"no values-<region>.yaml in {CHART}")
    for rid in regions:
        r.check((ROOT / "regions" / f"{rid}.toml").is_file(), f"values-{rid}.yaml has no regions/{rid}.toml")
    with tempfile.TemporaryDirectory(prefix="meridian-chart-") as tmp:
        workdir = Path(tmp)
        rendered = {}
        cases = []  # (name, expected, values, policies dir)
        for rid in regions:
            values = helm.values_from_yaml((CHART / f"values-{rid}.yaml").read_text())
            cases.append((rid, Expected(ROOT / "regions" / f"{rid}.toml"), values, ROOT / "policies"))
        if args.meridian:
            for rid in regions:
                path, _, text = production_variant(args.meridian.resolve(), workdir, ROOT / "regions" / f"{rid}.toml")
                values = helm.values_from_yaml(text)
                values["worker"] = {"enabled": True}
                values["ingress"] = {"enabled": True, "className": "nginx", "hosts": [{"host": f"digest.{rid}.example.com", "paths": [{"path": "/", "pathType": "Prefix"}]}],
                                     "tls": [{"secretName": f"digest-{rid}-tls", "hosts": [f"digest.{rid}.example.com"]}]}
                cases.append((f"{rid}-postgres", Expected(path), values, path.parent.parent / "policies"))
        for name, exp, values, policies_dir in cases:
            try:
                docs = render(helm, chart, values, f"meridian-{exp.id}")
            except helm.HelmError as e:
                r.check(False, f"{name}: helm render failed: {e}")
                continue
            rendered[name] = docs
            lint = helm.lint(str(CHART), values, strict=True, namespace=f"meridian-{exp.id}")
            for m in lint["messages"]:
                # 1 = info (e.g. "icon is recommended"), 2 = warning, 3 = error.
                r.check(m["severity"] < 2, f"{name}: helm lint --strict: {m['path']}: {m['error']}")
            check_network_policy(r, name, exp, docs)
            check_workloads(r, name, exp, docs, values)
            check_ollama(r, name, exp, docs)
            files = check_config_maps(r, name, exp, docs, policies_dir)
            if args.meridian and files:
                config_check(r, args.meridian.resolve(), name, exp.id, files, workdir)
            kinds = sorted({d["kind"] for d in docs})
            print(f"{name}: rendered {len(docs)} manifests ({', '.join(kinds)}); egress rules: "
                  + ", ".join(f"{k[0]} ({k[1]}) {sorted(v['ports'])}" for k, v in exp.rules.items()))
        validate(r, rendered, workdir)
        check_dockerfile(r, chart)
        if regions:
            base = helm.values_from_yaml((CHART / f"values-{regions[0]}.yaml").read_text())
            expect_failure(r, helm, chart, {}, "region.id is required", "rendering without a region's values")
            two = copy.deepcopy(base)
            two["server"]["replicas"] = 2
            expect_failure(r, helm, chart, two, "needs PostgreSQL", "two replicas on SQLite")
            typo = copy.deepcopy(base)
            typo["networkPolicy"]["egres"] = []
            expect_failure(r, helm, chart, typo, "egres", "a misspelt key (values.schema.json)")
    for f in r.failures:
        print(f"FAIL {f}", file=sys.stderr)
    if r.failures:
        print(f"{len(r.failures)} problem(s)", file=sys.stderr)
        return 1
    print(f"chart OK for {', '.join(name for name, *_ in cases)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
