#!/usr/bin/env python3
"""A small `helm` over Helm v4's Go SDK (PyPI's helm-python-sdk), for the chart tests and
for people without a helm binary. Run it with the venv that scripts/install-helm.sh makes:

    PY=$(scripts/install-helm.sh)
    $PY scripts/helm.py template charts/govcloud-operator -n govcloud-system [-f values.yaml]
    $PY scripts/helm.py lint charts/govcloud-operator --strict
    $PY scripts/helm.py install charts/govcloud-operator --kubeconfig admin.kubeconfig \
        -n govcloud-system --create-namespace [--name govcloud-operator] [-f values.yaml]
    $PY scripts/helm.py upgrade charts/govcloud-operator --kubeconfig admin.kubeconfig \
        -n govcloud-system [--name govcloud-operator] [-f values.yaml]
    $PY scripts/helm.py status --kubeconfig admin.kubeconfig -n govcloud-system
    $PY scripts/helm.py uninstall --kubeconfig admin.kubeconfig -n govcloud-system

`upgrade` takes the values given, as `helm upgrade` without `--reuse-values` does.
`template` prints what `helm template` prints: every rendered manifest (NOTES.txt and
empty ones left out) as one YAML stream, each document headed `# Source: <template>`, in
template-path order; `--include-crds` puts the chart's crds/ first. `install`, `status` and
`uninstall` print the release summary as JSON, without the manifest. Values files are
YAML, parsed by Helm itself; later `-f` files win, as with helm.

Exit status: 0 on success, 1 when Helm reports an error (the message on stderr), 2 on
bad usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import helm_python as helm

DEFAULT_RELEASE = "govcloud-operator"


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """`over` laid onto `base`, maps merged key by key (how helm combines -f files)."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def load_values(files: list[str], set_json: list[str]) -> dict[str, Any] | None:
    values: dict[str, Any] = {}
    for path in files:
        with open(path, encoding="utf-8") as f:
            values = deep_merge(values, helm.values_from_yaml(f.read()))
    for expr in set_json:
        values = deep_merge(values, helm.parse_set_json(expr))
    return values or None


def template(args: argparse.Namespace) -> int:
    values = load_values(args.values, args.set_json)
    with helm.Chart.load(args.chart) as chart:
        chart.validate_schema(values)
        rendered = chart.render(
            values, name=args.name, namespace=args.namespace, is_install=True
        )
        docs: list[str] = []
        if args.include_crds:
            for crd in sorted(chart.crds, key=lambda c: c["filename"]):
                docs.append(f"# Source: {crd['filename']}\n{crd['data'].strip()}\n")
        for path in sorted(rendered):
            body = rendered[path].strip()
            if path.endswith("NOTES.txt") or not body:
                continue
            # a template may hold several documents; keep its own separators
            body = body.removeprefix("---").lstrip("\n")
            docs.append(f"# Source: {path}\n{body}\n")
    sys.stdout.write("".join(f"---\n{d}" for d in docs))
    return 0


def lint(args: argparse.Namespace) -> int:
    values = load_values(args.values, args.set_json)
    report = helm.lint(args.chart, values, strict=args.strict, namespace=args.namespace)
    severities = {0: "UNKNOWN", 1: "INFO", 2: "WARNING", 3: "ERROR"}
    for m in report.get("messages", []):
        print(f"[{severities.get(m['severity'], m['severity'])}] {m['path']}: {m['error']}")
    failed = bool(report.get("errors")) or any(
        m["severity"] >= (2 if args.strict else 3) for m in report.get("messages", [])
    )
    print(f"{report.get('total_charts_linted', 0)} chart(s) linted, {'failed' if failed else 'ok'}")
    return 1 if failed else 0


def summary(release: dict[str, Any]) -> str:
    shown = {k: v for k, v in release.items() if k not in ("manifest", "chart", "config")}
    return json.dumps(shown, indent=2, sort_keys=True, default=str)


def config(args: argparse.Namespace) -> helm.Config:
    return helm.Config(kubeconfig_path=args.kubeconfig, namespace=args.namespace)


def install(args: argparse.Namespace) -> int:
    values = load_values(args.values, args.set_json)
    with config(args) as cfg, helm.Chart.load(args.chart) as chart:
        release = cfg.install(
            chart,
            args.name,
            values,
            namespace=args.namespace,
            create_namespace=args.create_namespace,
            timeout=args.timeout,
            wait=args.wait,
            dry_run=args.dry_run,
        )
    print(summary(release))
    return 0


def upgrade(args: argparse.Namespace) -> int:
    values = load_values(args.values, args.set_json)
    with config(args) as cfg, helm.Chart.load(args.chart) as chart:
        release = cfg.upgrade(
            chart,
            args.name,
            values,
            namespace=args.namespace,
            timeout=args.timeout,
            wait=args.wait,
        )
    print(summary(release))
    return 0


def status(args: argparse.Namespace) -> int:
    with config(args) as cfg:
        print(summary(cfg.status(args.name)))
    return 0


def uninstall(args: argparse.Namespace) -> int:
    with config(args) as cfg:
        result = cfg.uninstall(args.name, timeout=args.timeout, ignore_not_found=True)
    print(json.dumps({"info": result.get("info", "")}, indent=2))
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="helm.py", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser, chart: bool, cluster: bool) -> None:
        if chart:
            p.add_argument("chart", help="chart directory or .tgz")
            p.add_argument("-f", "--values", action="append", default=[], metavar="FILE")
            p.add_argument("--set-json", action="append", default=[], metavar="KEY=JSON")
        p.add_argument("--name", default=DEFAULT_RELEASE, help="release name")
        p.add_argument("-n", "--namespace", default="govcloud-system")
        if cluster:
            p.add_argument("--kubeconfig", required=True)
            p.add_argument("--timeout", type=int, default=300, metavar="SECONDS")

    p = sub.add_parser("template", help="render the chart offline")
    common(p, chart=True, cluster=False)
    p.add_argument("--include-crds", action="store_true")
    p.set_defaults(func=template)

    p = sub.add_parser("lint", help="lint the chart")
    common(p, chart=True, cluster=False)
    p.add_argument("--strict", action="store_true", help="warnings fail too")
    p.set_defaults(func=lint)

    p = sub.add_parser("install", help="install a release")
    common(p, chart=True, cluster=True)
    p.add_argument("--create-namespace", action="store_true")
    p.add_argument("--wait", choices=["watcher", "legacy", "hookOnly"], default=None)
    p.add_argument("--dry-run", choices=["client", "server"], default=None)
    p.set_defaults(func=install)

    p = sub.add_parser("upgrade", help="upgrade a release to the chart and values given")
    common(p, chart=True, cluster=True)
    p.add_argument("--wait", choices=["watcher", "legacy", "hookOnly"], default=None)
    p.set_defaults(func=upgrade)

    p = sub.add_parser("status", help="show a release")
    common(p, chart=False, cluster=True)
    p.set_defaults(func=status)

    p = sub.add_parser("uninstall", help="remove a release (CRDs stay, as with helm)")
    common(p, chart=False, cluster=True)
    p.set_defaults(func=uninstall)

    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except helm.HelmError as e:
        print(f"helm.py {args.command}: {type(e).__name__}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
