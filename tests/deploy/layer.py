"""The Lambda layer as `sam build` makes it, checked without Docker: its wheels for the target platform, and a
clean virtual environment with only what the Lambda runtime would hold. Both are cached under .venv/ by a hash
of what they depend on, so only the first `make test` after a requirements change pays for them."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path
from typing import Any

from failover_local.template import ROOT, load_template

REQUIREMENTS = ROOT / "layers/common/requirements.txt"
PACKAGE = ROOT / "layers/common/failover"
CACHE = ROOT / ".venv" / "deploy-cache"
# template.yaml's Runtime and Architectures: python3.13 on arm64 (Graviton). Lambda's python3.13 runs on Amazon
# Linux 2023 (glibc 2.34): https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html
PYTHON_VERSION = "3.13"
PLATFORMS = ("manylinux2014_aarch64", "manylinux_2_28_aarch64")


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def layer_wheels() -> list[Path]:
    """`pip download` of the layer's requirements for CPython 3.13 on manylinux aarch64, wheels only (an sdist
    would need a build on the target). Raises CalledProcessError naming what has no such wheel."""
    target = CACHE / f"wheels-{_digest(REQUIREMENTS.read_text(), *PLATFORMS, PYTHON_VERSION)}"
    done = target / ".complete"
    if not done.exists():
        shutil.rmtree(target, ignore_errors=True)
        platforms = [arg for p in PLATFORMS for arg in ("--platform", p)]
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--only-binary=:all:",
             *platforms, "--python-version", PYTHON_VERSION, "--implementation", "cp", "--abi", "cp313",
             "-r", str(REQUIREMENTS), "-d", str(target)],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        done.touch()
    return sorted(p for p in target.iterdir() if not p.name.startswith("."))


def clean_environment() -> Path:
    """A venv holding only the layer's requirements and boto3 (the runtime's), for this machine's Python.
    Returns its python. The failover package is not installed: it goes on PYTHONPATH as /opt/python would."""
    target = CACHE / f"venv-{_digest(REQUIREMENTS.read_text(), sys.version)}"
    python = target / "bin" / "python"
    done = target / ".complete"
    if not done.exists():
        shutil.rmtree(target, ignore_errors=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(target)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             "-r", str(REQUIREMENTS), "boto3"],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        done.touch()
    return python


def layer_site(tmp: Path) -> Path:
    """What the layer adds under /opt/python besides its requirements: the failover package, copied."""
    site = tmp / "opt-python"
    shutil.copytree(PACKAGE, site / "failover", ignore=shutil.ignore_patterns("__pycache__"))
    return site


def function_environments() -> dict[str, dict[str, str]]:
    """Each function's environment variables as template.yaml gives them (Globals, then its own), with
    placeholder values for what only a deployed stack knows (ARNs, URLs, names)."""
    template = load_template()
    defaults = {name: str(spec.get("Default", "")) for name, spec in template.get("Parameters", {}).items()}
    shared = template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    found = {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        own = (resource["Properties"].get("Environment") or {}).get("Variables", {})
        found[logical_id] = {k: _placeholder(v, defaults) for k, v in {**shared, **own}.items()}
    return found


def _placeholder(value: Any, parameters: dict[str, str]) -> str:
    if isinstance(value, dict) and "Ref" in value and value["Ref"] in parameters:
        return parameters[value["Ref"]]
    if isinstance(value, dict):
        if "Fn::Sub" in value and "execute-api" in str(value["Fn::Sub"]):
            return "https://abcdef1234.execute-api.eu-west-1.amazonaws.com/v1"
        if "Fn::Sub" in value and ":states:" in str(value["Fn::Sub"]):
            return "arn:aws:states:eu-west-1:123456789012:stateMachine:failover-failover"
        if "Ref" in value and "Queue" in value["Ref"]:
            return f"https://sqs.eu-west-1.amazonaws.com/123456789012/{value['Ref']}"
        if "Ref" in value and "Secret" in value["Ref"]:
            return f"arn:aws:secretsmanager:eu-west-1:123456789012:secret:{value['Ref']}-AbCdEf"
        return f"placeholder-{next(iter(value.values()))}"
    return str(value)


def handler_import_environment(logical_id: str, site: Path) -> dict[str, str]:
    """What a Lambda sandbox's init phase sees: the runtime's variables, the function's, the layer on the path."""
    return {
        **function_environments()[logical_id],
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(site),
        "AWS_REGION": "eu-west-1",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_LAMBDA_FUNCTION_NAME": f"failover-{logical_id}",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "LAMBDA_TASK_ROOT": "/var/task",
        "_HANDLER": "app.lambda_handler",
    }
