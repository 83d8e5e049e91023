"""Cold start, per function of template.yaml: the time to import its handler module in a fresh interpreter
(median of 10), against a baseline measured in the same run: importing boto3 plus aws_lambda_powertools.Logger
alone. The ratio is taken on wall-clock time; the import's CPU time is reported beside it, since other work on
the machine sways it less. Each function's account lists, from a few `-X importtime` runs, the modules it loads
beyond the baseline's, with their self times. Plus the size of each function's package and of the layer.

Like Lambda: on CPython 3.13 (the template's runtime), in a virtual environment that holds only the layer's
requirements and boto3 (the runtime's), built once and cached in bench/.cache/. When no Python 3.13 is found
(python3.13 on PATH or under ~/.pyenv), this interpreter stands in and the results say so.

The import runs as Lambda's would: the function's CodeUri first on sys.path, then the layer's directory, with
the function's environment from template.yaml (placeholders for resource references) and
AWS_LAMBDA_FUNCTION_NAME set, so Powertools' Tracer is active, as it is in AWS with Tracing: Active. The
handler module runs its module-level code, build_service() included (it creates the boto3 clients; no network
call is made). Interpreter start-up is not included.

Sizes: the layer is built the way `sam build` builds it, `pip install --target` of layers/common/requirements.txt
for arm64 and CPython 3.13 (wheels only), cached in bench/.cache/. Without PyPI, the installed distributions in
this virtual environment stand in (x86-64, this Python) and the results say so.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

from failover_local.template import ROOT, load_template, parameter_defaults, resources_of

PROBE = Path(__file__).with_name("_import_probe.py")
CACHE = Path(__file__).with_name(".cache")
LAYER_DIR = ROOT / "layers" / "common"
REPEATS = 10
LAMBDA_PYTHON = "3.13"
TARGET_RATIO = 1.5
FALLBACK_RATIO = 2.0  # issue 15: a function that cannot reach the target stays within 2x, with an account
ACCOUNT_RUNS = 3  # -X importtime runs per function for the per-module account (median)
BASELINE_REQUIREMENTS = "aws-lambda-powertools\n"  # what Logger needs beyond the runtime's boto3
PLATFORM = ["--platform", "manylinux2014_aarch64", "--python-version", "3.13", "--implementation", "cp"]
LAMBDA_UNZIPPED_LIMIT_MB = 250


def _functions() -> dict[str, dict[str, Any]]:
    template = load_template()
    globals_ = template.get("Globals", {}).get("Function", {})
    defaults = parameter_defaults(template)
    shared = (globals_.get("Environment") or {}).get("Variables") or {}

    def plain(value: Any) -> str:
        if isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] in defaults:
            return str(defaults[value["Ref"]])
        return str(value) if not isinstance(value, dict | list) else "bench-placeholder"

    functions = {}
    for logical_id, resource in resources_of(template, "AWS::Serverless::Function").items():
        properties = resource["Properties"]
        own = (properties.get("Environment") or {}).get("Variables") or {}
        module = properties.get("Handler", globals_.get("Handler", "app.lambda_handler")).rsplit(".", 1)[0]
        functions[logical_id] = {
            "code_dir": ROOT / properties["CodeUri"],
            "module": module,
            "memory_mb": int(properties.get("MemorySize", globals_.get("MemorySize", 128))),
            "environment": {k: plain(v) for k, v in {**shared, **own}.items()},
        }
    return functions


def _environment(logical_id: str, variables: dict[str, str]) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    return {
        **keep,
        **variables,
        "AWS_REGION": "eu-west-1",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_LAMBDA_FUNCTION_NAME": logical_id,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }


def _find_python_313() -> str | None:
    found = shutil.which(f"python{LAMBDA_PYTHON}")
    candidates = [found] if found else []
    candidates += sorted(str(p) for p in Path.home().glob(f".pyenv/versions/{LAMBDA_PYTHON}*/bin/python"))
    for candidate in candidates:
        done = subprocess.run([candidate, "-c", "import sys; print(sys.version)"], capture_output=True, text=True)
        if done.returncode == 0 and done.stdout.startswith(LAMBDA_PYTHON + "."):
            return candidate
    return None


def lambda_python() -> tuple[str, str]:
    """(python, note): a 3.13 interpreter with only the layer's requirements and boto3, or this one."""
    requirements = (LAYER_DIR / "requirements.txt").read_text()
    base = _find_python_313()
    if base is None:
        return sys.executable, f"Python {LAMBDA_PYTHON} not found (python{LAMBDA_PYTHON}, ~/.pyenv): this venv's"
    key = hashlib.sha256((requirements + base).encode()).hexdigest()[:16]
    target = CACHE / f"python-{LAMBDA_PYTHON}-{key}"
    python = target / "bin" / "python"
    if not (target / ".complete").exists():
        shutil.rmtree(target, ignore_errors=True)
        subprocess.run([base, "-m", "venv", str(target)], check=True, capture_output=True, text=True)
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
            handle.write(requirements + "boto3\n")  # boto3: the Lambda runtime's
        try:
            command = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r"]
            done = subprocess.run([*command, handle.name], capture_output=True, text=True, timeout=300)
        finally:
            os.unlink(handle.name)
        if done.returncode != 0:
            shutil.rmtree(target, ignore_errors=True)
            return sys.executable, f"installing the layer for Python {LAMBDA_PYTHON} failed: this venv's"
        (target / ".complete").write_text("")
    return str(python), "the layer's requirements and boto3 only, in a venv of their own"


def _probe_command(spec: dict[str, Any] | None, importtime: bool = False, python: str = sys.executable) -> list[str]:
    command = [python, "-I"] + (["-X", "importtime"] if importtime else []) + [str(PROBE)]
    if spec is None:
        return [*command, "baseline"]
    return [*command, "handler", str(spec["code_dir"]), spec["module"], str(LAYER_DIR)]


def _probe(spec: dict[str, Any] | None, env: dict[str, str], python: str) -> dict[str, float]:
    """{"import": wall seconds, "import_cpu": CPU seconds, "clients": seconds the first invocation adds creating
    the lazily built clients (handlers only)}."""
    done = subprocess.run(
        _probe_command(spec, python=python), env=env, capture_output=True, text=True, timeout=120, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"import probe failed: {done.stderr[-2000:]}")
    return _parse_probe(done.stdout)


def _self_times(spec: dict[str, Any] | None, env: dict[str, str], python: str) -> tuple[dict[str, float], float]:
    """One `-X importtime` run (which adds its own overhead): ({module: self time in ms}, the import's ms)."""
    done = subprocess.run(
        _probe_command(spec, importtime=True, python=python),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    modules: dict[str, float] = {}
    for line in done.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)", line)
        if match:
            modules[match.group(2)] = int(match.group(1)) / 1000
    try:
        total_ms = _parse_probe(done.stdout)["import"] * 1000
    except (KeyError, ValueError):
        total_ms = sum(modules.values())
    return modules, total_ms


def _parse_probe(stdout: str) -> dict[str, float]:
    pairs = (line.split("=", 1) for line in stdout.strip().splitlines() if "=" in line)
    return {key: float(value) for key, value in pairs}


def _breakdown(modules: dict[str, float], total_ms: float, handler: bool) -> list[tuple[str, float]]:
    """Where the import time goes: self times summed per top-level package, in ms; for a handler, the rest of
    that run's time is the handler module's own body."""
    per_package: Counter[str] = Counter()
    for name, ms in modules.items():
        per_package[name.split(".")[0]] += ms
    top = per_package.most_common(8)
    rows = [(name, ms) for name, ms in top]
    rows.append(("(other imports)", sum(per_package.values()) - sum(ms for _, ms in top)))
    if handler:  # what is not an import: the handler's module body (build_service(): boto3 clients, ...)
        rows.append(("(handler module body)", max(0.0, total_ms - sum(per_package.values()))))
    return rows


def _account_key(module: str) -> str:
    """Grouping for the account: our package and Powertools by sub-package, anything else by top-level package."""
    parts = module.split(".")
    if parts[0] == "failover":
        return ".".join(parts[:2])
    if parts[0] == "aws_lambda_powertools":
        return ".".join(parts[:3])
    return parts[0]


def _beyond_baseline(runs: list[dict[str, float]], baseline_modules: set[str]) -> list[tuple[str, float]]:
    """The account of what a handler imports beyond the baseline: the modules the baseline does not load, their
    importtime self times grouped (_account_key), median over the runs, largest first."""
    per_run: list[Counter[str]] = []
    for run in runs:
        per_run.append(Counter())
        for module, ms in run.items():
            if module not in baseline_modules:
                per_run[-1][_account_key(module)] += ms
    keys = set().union(*per_run)
    medians = {key: statistics.median(per[key] for per in per_run) for key in keys}
    return sorted(((k, v) for k, v in medians.items() if v > 0), key=lambda kv: -kv[1])


def measure_imports(repeats: int = REPEATS, account_runs: int = ACCOUNT_RUNS) -> dict[str, Any]:
    functions = _functions()
    python, environment_note = lambda_python()
    samples: dict[str, list[dict[str, float]]] = {"baseline": [], **{name: [] for name in functions}}
    base_env = _environment("baseline", {})
    envs = {name: _environment(name, spec["environment"]) for name, spec in functions.items()}
    for _ in range(repeats):  # interleaved, so that drift on the machine hits all alike
        samples["baseline"].append(_probe(None, base_env, python))
        for name, spec in functions.items():
            samples[name].append(_probe(spec, envs[name], python))

    def median(name: str, key: str) -> float:
        return statistics.median(sample[key] for sample in samples[name])

    baseline, baseline_cpu = median("baseline", "import"), median("baseline", "import_cpu")
    baseline_modules, baseline_total = _self_times(None, base_env, python)
    rows = {}
    for name, spec in functions.items():
        runs = [_self_times(spec, envs[name], python) for _ in range(account_runs)]
        imported = median(name, "import")
        rows[name] = {
            "median_ms": imported * 1000,
            "samples_ms": [s["import"] * 1000 for s in samples[name]],
            "ratio": imported / baseline,
            "target_met": imported / baseline <= TARGET_RATIO,
            "cpu_median_ms": median(name, "import_cpu") * 1000,
            "cpu_ratio": median(name, "import_cpu") / baseline_cpu,
            "breakdown_ms": _breakdown(*runs[0], handler=True),
            "beyond_baseline_ms": _beyond_baseline([modules for modules, _ in runs], set(baseline_modules)),
            # The same runs' totals: all the modules it adds, and the import (importtime's overhead included).
            "beyond_baseline_total_ms": statistics.median(
                sum(ms for module, ms in modules.items() if module not in baseline_modules) for modules, _ in runs
            ),
            "importtime_total_ms": statistics.median(total for _, total in runs),
            "first_invocation_clients_ms": median(name, "clients") * 1000,
            "memory_mb": spec["memory_mb"],
        }
    return {
        "repeats": repeats,
        "account_runs": account_runs,
        "python": subprocess.run(
            [python, "-c", "import platform; print(platform.python_version())"], capture_output=True, text=True
        ).stdout.strip(),
        "environment": environment_note,
        "baseline": {
            "what": "import boto3; from aws_lambda_powertools import Logger",
            "median_ms": baseline * 1000,
            "samples_ms": [s["import"] * 1000 for s in samples["baseline"]],
            "cpu_median_ms": baseline_cpu * 1000,
            "breakdown_ms": _breakdown(baseline_modules, baseline_total, handler=False),
            "importtime_total_ms": baseline_total,
        },
        "functions": rows,
        "target_ratio": TARGET_RATIO,
        "fallback_ratio": FALLBACK_RATIO,
    }


# --- sizes ---------------------------------------------------------------------------------------------------


def _files(root: Path) -> list[Path]:
    return [
        p
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc" and ".egg-info" not in str(p)
    ]


def _sizes(roots: list[tuple[Path, str]]) -> tuple[int, int]:
    """(unzipped bytes, zipped bytes) of the files under each root, placed under its prefix in one archive."""
    unzipped = 0
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for root, prefix in roots:
            for path in _files(root):
                unzipped += path.stat().st_size
                archive.write(path, f"{prefix}/{path.relative_to(root)}")
    return unzipped, len(buffer.getvalue())


def _pip_target(requirements: str) -> tuple[Path | None, str]:
    """The layer's dependencies as `sam build` installs them (arm64, CPython 3.13), cached; None if pip fails."""
    key = hashlib.sha256((requirements + " ".join(PLATFORM)).encode()).hexdigest()[:16]
    target = CACHE / f"layer-{key}"
    if (target / ".complete").exists():
        return target, "pip install --target, cached in bench/.cache/"
    shutil.rmtree(target, ignore_errors=True)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
        handle.write(requirements)
    try:
        command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--target"]
        command += [str(target), "-r", handle.name, "--only-binary=:all:", *PLATFORM]
        done = subprocess.run(command, capture_output=True, text=True, timeout=240, check=False)
    finally:
        os.unlink(handle.name)
    if done.returncode != 0:
        shutil.rmtree(target, ignore_errors=True)
        return None, done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "pip failed"
    (target / ".complete").write_text("")
    return target, "pip install --target"


def _venv_closure(requirements: str) -> list[Path]:
    """Fallback: the files of the installed distributions the requirements pull in (this platform's wheels)."""
    from importlib import metadata

    from packaging.requirements import Requirement

    seen: set[str] = set()
    files: list[Path] = []
    pending = [Requirement(line) for line in requirements.splitlines() if line.strip() and not line.startswith("#")]
    while pending:
        requirement = pending.pop()
        name = requirement.name.lower().replace("_", "-")
        if name in seen:
            continue
        seen.add(name)
        try:
            dist = metadata.distribution(requirement.name)
        except metadata.PackageNotFoundError:
            continue
        files += [Path(dist.locate_file(f)) for f in dist.files or [] if "__pycache__" not in str(f)]
        for spec in dist.requires or []:
            child = Requirement(spec)
            extras = requirement.extras or {""}
            if child.marker is None or any(child.marker.evaluate({"extra": e}) for e in extras):
                pending.append(child)
    return [f for f in files if f.is_file()]


def _dependency_sizes(requirements: str) -> dict[str, Any]:
    target, how = _pip_target(requirements)
    if target is not None:
        unzipped, zipped = _sizes([(target, "python")])
        packages: Counter[str] = Counter()
        for path in _files(target):
            packages[path.relative_to(target).parts[0]] += path.stat().st_size
        return {
            "method": f"{how} (manylinux2014_aarch64, CPython 3.13, wheels only)",
            "unzipped": unzipped,
            "zipped": zipped,
            "largest": [(name, size) for name, size in packages.most_common(6) if not name.endswith(".dist-info")],
        }
    files = _venv_closure(requirements)
    unzipped = sum(f.stat().st_size for f in files)
    return {
        "method": f"installed distributions in this venv (pip failed: {how}); no zipped size",
        "unzipped": unzipped,
        "zipped": None,
        "largest": [],
    }


def measure_sizes() -> dict[str, Any]:
    requirements = (LAYER_DIR / "requirements.txt").read_text()
    dependencies = _dependency_sizes(requirements)
    own_unzipped, own_zipped = _sizes([(LAYER_DIR / "failover", "python/failover")])
    layer = {
        "dependencies": dependencies,
        "failover_package": {"unzipped": own_unzipped, "zipped": own_zipped},
        "unzipped": dependencies["unzipped"] + own_unzipped,
        "zipped": (dependencies["zipped"] or 0) + own_zipped if dependencies["zipped"] is not None else None,
    }
    functions = {}
    for name, spec in _functions().items():
        unzipped, zipped = _sizes([(spec["code_dir"], ".")])
        functions[name] = {
            "package_unzipped": unzipped,
            "package_zipped": zipped,
            "with_layer_unzipped": unzipped + layer["unzipped"],
            "with_layer_zipped": zipped + layer["zipped"] if layer["zipped"] is not None else None,
        }
    baseline = _dependency_sizes(BASELINE_REQUIREMENTS)
    return {
        "layer": layer,
        "functions": functions,
        "baseline": {"what": "aws-lambda-powertools alone (boto3 is in the runtime)", **baseline},
        "lambda_unzipped_limit_mb": LAMBDA_UNZIPPED_LIMIT_MB,
    }


def run(repeats: int = REPEATS) -> dict[str, Any]:
    return {"imports": measure_imports(repeats), "sizes": measure_sizes()}
