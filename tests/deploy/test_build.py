"""What `sam build` would ship, checked without Docker or AWS: wheels for the target, botocore, size, imports."""

from __future__ import annotations

import subprocess
import zipfile

import pytest
from packaging.utils import parse_wheel_filename

from failover_local.template import ROOT, load_template
from tests.deploy.layer import (
    PYTHON_VERSION,
    clean_environment,
    function_environments,
    handler_import_environment,
    layer_site,
    layer_wheels,
)

# Lambda allows 250 MB unzipped for a function and all its layers together:
# https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
# The layer stays well under it, so the functions' own code and a second layer still fit. Issue 15 took it from
# 55.6 MB to about 14 MB (no X-Ray SDK and so no botocore/boto3 of its own; phonenumberslite): the budget keeps a
# new dependency from bringing that back unnoticed.
LAYER_BUDGET_BYTES = 24 * 1024 * 1024

pytestmark = pytest.mark.timeout(600)  # the first run downloads and builds caches


@pytest.fixture(scope="module")
def wheels():
    try:
        return layer_wheels()
    except subprocess.CalledProcessError as error:
        pytest.fail(f"the layer's requirements do not resolve to manylinux aarch64 cp313 wheels:\n{error.stderr}")


def test_every_requirement_resolves_to_a_wheel_for_python_3_13_on_manylinux_aarch64(wheels):
    assert wheels
    for wheel in wheels:
        assert wheel.suffix == ".whl", f"{wheel.name}: not a wheel (an sdist must be built on the target)"
        _, _, _, tags = parse_wheel_filename(wheel.name)
        fits = [
            t
            for t in tags
            if (t.platform == "any" or ("manylinux" in t.platform and t.platform.endswith("aarch64")))
            and (t.interpreter in ("py3", "cp313") or t.abi == "abi3")
        ]
        assert fits, f"{wheel.name}: no tag for CPython {PYTHON_VERSION} on manylinux aarch64"


def test_the_layer_ships_no_botocore_without_the_boto3_that_matches_it(wheels):
    """Layers come before the runtime on sys.path (/opt/python): a botocore in the layer replaces the runtime's,
    and the runtime's boto3 may not work with it. https://docs.aws.amazon.com/lambda/latest/dg/python-layers.html
    """
    names = {parse_wheel_filename(w.name)[0]: w for w in wheels}
    if "botocore" not in names:
        return
    assert "boto3" in names, "the layer ships botocore (a dependency pulls it in) but not boto3: add boto3"
    boto3_version = str(parse_wheel_filename(names["boto3"].name)[1])
    botocore_version = str(parse_wheel_filename(names["botocore"].name)[1])
    with zipfile.ZipFile(names["boto3"]) as archive:
        metadata = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        requirement = next(
            line for line in archive.read(metadata).decode().splitlines() if line.startswith("Requires-Dist: botocore")
        )
    from packaging.requirements import Requirement

    assert botocore_version in Requirement(requirement.removeprefix("Requires-Dist: ")).specifier, (
        f"boto3 {boto3_version} requires {requirement}, the layer ships botocore {botocore_version}"
    )


def test_the_layer_unzipped_stays_under_its_budget(wheels):
    package = sum(p.stat().st_size for p in (ROOT / "layers/common/failover").rglob("*.py"))
    size = package + sum(entry.file_size for wheel in wheels for entry in zipfile.ZipFile(wheel).infolist())
    assert size < LAYER_BUDGET_BYTES, f"layer unzipped: {size / 2**20:.1f} MiB > {LAYER_BUDGET_BYTES / 2**20:.0f} MiB"


FUNCTIONS = {
    logical_id: resource["Properties"]
    for logical_id, resource in load_template()["Resources"].items()
    if resource["Type"] == "AWS::Serverless::Function"
}


@pytest.fixture(scope="module")
def clean_python():
    try:
        return clean_environment()
    except subprocess.CalledProcessError as error:
        pytest.fail(f"the layer's requirements do not install:\n{error.stderr}")


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_each_handler_imports_with_only_the_layer_boto3_and_its_own_environment(logical_id, clean_python, tmp_path):
    properties = FUNCTIONS[logical_id]
    module, handler = properties["Handler"].rsplit(".", 1)
    probe = (
        f"import importlib, sys; m = importlib.import_module({module!r}); assert callable(m.{handler}); "
        "dev = {'moto', 'failover_local', 'tests', 'pytest', 'yaml'}; "
        "leaked = sorted({n.split('.')[0] for n in sys.modules} & dev); "
        "assert not leaked, leaked"
    )
    result = subprocess.run(
        [str(clean_python), "-c", probe],
        cwd=ROOT / properties["CodeUri"],  # /var/task
        env=handler_import_environment(logical_id, layer_site(tmp_path)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"{logical_id}: {result.stderr[-3000:]}"


def test_each_function_gets_its_own_variables_only():
    environments = function_environments()
    assert "ROUTEE_CREDENTIALS_SECRET" in environments["SendStepFunction"]
    assert "ROUTEE_CREDENTIALS_SECRET" not in environments["ApiFunction"]
    assert "STATE_MACHINE_ARN" in environments["ApiFunction"]
