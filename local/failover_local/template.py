"""Reads template.yaml (CloudFormation tags included) and resolves the intrinsics the local runtime needs."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cfnlint.decode

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    """template.yaml as plain data, CloudFormation's short forms (!Ref, !Sub, !GetAtt, ...) in their long forms."""
    template, errors = cfnlint.decode.decode(str(path))
    if errors or template is None:
        raise ValueError(f"{path}: " + "; ".join(str(error) for error in errors))
    return json.loads(json.dumps(template))  # cfn-lint's node classes (they carry line marks) to plain dicts


@dataclass
class Resolver:
    """Resolves Ref / GetAtt / Sub / Join against the values the local runtime gave each resource."""

    refs: dict[str, Any]
    attributes: dict[tuple[str, str], Any] = field(default_factory=dict)

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self._ref(arg)
            if key == "Fn::GetAtt":
                return self._attribute(*arg)
            if key == "Fn::Sub":
                return self._sub(arg)
            if key == "Fn::Join":
                separator, parts = arg
                return separator.join(str(self.resolve(p)) for p in parts)
        return {k: self.resolve(v) for k, v in value.items()}

    def _ref(self, name: str) -> Any:
        if name not in self.refs:
            raise KeyError(f"template.yaml: no local value for Ref {name}")
        return self.refs[name]

    def _attribute(self, resource: str, attribute: str) -> Any:
        if (resource, attribute) not in self.attributes:
            raise KeyError(f"template.yaml: no local value for GetAtt {resource}.{attribute}")
        return self.attributes[(resource, attribute)]

    def _sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            if "." in name:
                return str(self._attribute(*name.split(".", 1)))
            return str(self._ref(name))

        return re.sub(r"\$\{([^}!]+)\}", replace, text)


def parameter_defaults(template: dict[str, Any]) -> dict[str, Any]:
    return {name: spec.get("Default", "") for name, spec in template.get("Parameters", {}).items()}


def resources_of(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}
