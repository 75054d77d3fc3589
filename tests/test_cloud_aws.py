"""ECR IAM evidence end to end: the real CLI, boto3 and moto in server mode on 127.0.0.1 (the real AWS
wire protocol), for the field report of issue 15 and its neighbours. moto serves IAM/EC2/ECR; the cluster
side is ``kubectl get -o json`` files whose node's providerID names a moto instance.

In CI (CI=true) a missing moto fails instead of skipping.
"""

from __future__ import annotations

import itertools
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cloudfiles import ECR, head_403, write_case
from tests.helpers import cli
from tests.lab import procs
from tests.lab.blackhole import Blackhole

if os.environ.get("CI") == "true":
    import boto3
    import moto  # noqa: F401
else:
    boto3 = pytest.importorskip("boto3")
    pytest.importorskip("moto")

KEY_ID, SECRET = "AKIACANARYKEYID00001", "CANARY/secret+access+key/0000000000000"
_n = itertools.count()


@pytest.fixture(scope="module")
def moto_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = procs.free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    env_backup = os.environ.get("MOTO_IAM_LOAD_MANAGED_POLICIES")
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
    try:
        proc = procs.start("moto", [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], log)
    finally:
        if env_backup is None:
            os.environ.pop("MOTO_IAM_LOAD_MANAGED_POLICIES")
    def ready() -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    procs.wait_ready(proc, ready, timeout=30)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.stop()


def aws_env(url: str) -> dict[str, str]:
    return {"AWS_ENDPOINT_URL": url, "AWS_ACCESS_KEY_ID": KEY_ID, "AWS_SECRET_ACCESS_KEY": SECRET,
            "AWS_SESSION_TOKEN": "CANARYSESSIONTOKEN", "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": "/nonexistent/config",
            "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/credentials"}


def client(url: str, name: str):  # boto3 clients are untyped
    return boto3.client(name, endpoint_url=url, region_name="us-east-1", aws_access_key_id=KEY_ID,
                        aws_secret_access_key=SECRET)


def node_with_role(url: str, managed: list[str] = (), inline: dict | None = None) -> tuple[str, str, str]:
    """An EC2 instance whose instance profile holds a new role; (instance id, role name, role ARN)."""
    iam, ec2 = client(url, "iam"), client(url, "ec2")
    n = next(_n)
    role = f"eks-node-group-role-{n}"
    arn = iam.create_role(RoleName=role, Path="/", AssumeRolePolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                                                 "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    for p in managed:
        iam.attach_role_policy(RoleName=role, PolicyArn=p)
    for name, doc in (inline or {}).items():
        iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=json.dumps(doc))
    iam.create_instance_profile(InstanceProfileName=f"prof-{n}")
    iam.add_role_to_instance_profile(InstanceProfileName=f"prof-{n}", RoleName=role)
    ami = ec2.describe_images()["Images"][0]["ImageId"]
    inst = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1,
                             IamInstanceProfile={"Name": f"prof-{n}"})["Instances"][0]["InstanceId"]
    return inst, role, arn


def repo_with_image(url: str, tags: tuple[str, ...] = ("v1",), policy: dict | str | None = None) -> str:
    ecr = client(url, "ecr")
    repo = f"shop/app{next(_n)}"
    ecr.create_repository(repositoryName=repo)
    for t in tags:
        ecr.put_image(repositoryName=repo, imageTag=t, imageManifest=json.dumps({
            "schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"digest": f"sha256:{'a' * 63}{len(t)}", "size": 1, "mediaType": "x"}, "layers": []}))
    if policy is not None:
        ecr.set_repository_policy(repositoryName=repo,
                                  policyText=policy if isinstance(policy, str) else json.dumps(policy))
    return repo


READ_ONLY = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"


def diagnose(tmp: Path, url: str, image: str, message: str, instance: str, *extra: str,
             env: dict[str, str] | None = None) -> tuple[dict, str]:
    case = write_case(tmp / f"c{next(_n)}", image, message, provider_id=f"aws:///us-east-1a/{instance}")
    r = cli("diagnose", "--from", str(case), "--no-probe", "-o", "json", *extra,
            env=aws_env(url) if env is None else env, timeout=120)
    assert r.returncode == 1, r.stderr
    for canary in (SECRET, "CANARYSESSIONTOKEN", KEY_ID):
        assert canary not in r.stdout + r.stderr
    doc = json.loads(r.stdout)
    return doc["findings"][0], "\n".join(doc["notes"])


def test_the_field_report_ends_on_forbidden_certain_naming_the_statement_and_the_role(
        tmp_path: Path, moto_url: str) -> None:
    inst, role, role_arn = node_with_role(moto_url, [READ_ONLY])
    policy = {"Version": "2012-10-17", "Statement": [
        {"Sid": "AllowCI", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
         "Action": ["ecr:*"]},
        {"Sid": "DenyNodeGroup", "Effect": "Deny", "Principal": {"AWS": role_arn},
         "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]}]}
    repo = repo_with_image(moto_url, policy=policy)
    image = f"{ECR}/{repo}:v1"
    f, notes = diagnose(tmp_path, moto_url, image, head_403(image), inst)
    assert (f["cause"], f["confidence"]) == ("forbidden", "certain"), f
    assert "AWS refused" not in notes and "did not answer" not in notes
    assert "DenyNodeGroup" in f["summary"] and role in f["summary"]
    text = json.dumps(f["evidence"])
    assert "Effect Deny" in text and role_arn in text and "ecr:BatchGetImage" in text
    assert f"{repo}:v1 exists" in text
    cmds = [c for fx in f["fixes"] for c in fx["commands"]]
    assert any(c.startswith(f"aws ecr set-repository-policy --repository-name {repo} --region us-east-1")
               and "--policy-text file://policy.json" in c for c in cmds), cmds
    assert any("DenyNodeGroup" in fx["text"] for fx in f["fixes"])
    assert any(c.startswith("kubectl ") for c in cmds) and "retr" in json.dumps(f["fixes"])
    assert "NODE_ROLE" not in json.dumps(f)
    # --no-cloud: the same case from the message alone, and no AWS read at all.
    f2, _ = diagnose(tmp_path, moto_url, image, head_403(image), inst, "--no-cloud")
    assert (f2["cause"], f2["confidence"]) == ("forbidden", "likely")
    assert "aws" not in {e["source"] for e in f2["evidence"]}


def test_only_statement_deny_is_fixed_by_deleting_the_policy(tmp_path: Path, moto_url: str) -> None:
    inst, _, role_arn = node_with_role(moto_url, [READ_ONLY])
    repo = repo_with_image(moto_url, policy={"Version": "2012-10-17", "Statement": [
        {"Sid": "NoNodes", "Effect": "Deny", "Principal": {"AWS": role_arn}, "Action": "ecr:*"}]})
    image = f"{ECR}/{repo}:v1"
    f, _ = diagnose(tmp_path, moto_url, image, head_403(image), inst)
    assert (f["cause"], f["confidence"]) == ("forbidden", "certain")
    cmds = [c for fx in f["fixes"] for c in fx["commands"]]
    assert f"aws ecr delete-repository-policy --repository-name {repo} --region us-east-1 --registry-id " \
           "123456789012" in cmds


def test_a_role_without_ecr_permissions_gets_the_read_only_policy(tmp_path: Path, moto_url: str) -> None:
    inst, role, _ = node_with_role(moto_url, inline={"logs": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "logs:*", "Resource": "*"}]}})
    repo = repo_with_image(moto_url)
    image = f"{ECR}/{repo}:v1"
    f, _ = diagnose(tmp_path, moto_url, image, head_403(image), inst)
    assert (f["cause"], f["confidence"]) == ("forbidden", "certain")
    assert "ecr:GetAuthorizationToken" in f["summary"] and role in f["summary"]
    cmds = [c for fx in f["fixes"] for c in fx["commands"]]
    assert f"aws iam attach-role-policy --role-name {role} --policy-arn {READ_ONLY}" in cmds


def test_inline_deny_names_the_inline_policy(tmp_path: Path, moto_url: str) -> None:
    inst, role, _ = node_with_role(moto_url, [READ_ONLY], inline={"no-pull": {"Version": "2012-10-17", "Statement": [
        {"Sid": "StopPulls", "Effect": "Deny", "Action": "ecr:BatchGetImage", "Resource": "*"}]}})
    repo = repo_with_image(moto_url)
    image = f"{ECR}/{repo}:v1"
    f, _ = diagnose(tmp_path, moto_url, image, head_403(image), inst)
    assert (f["cause"], f["confidence"]) == ("forbidden", "certain")
    assert "inline policy no-pull" in f["summary"] and "StopPulls" in f["summary"]
    cmds = [c for fx in f["fixes"] for c in fx["commands"]]
    assert any(c.startswith(f"aws iam put-role-policy --role-name {role} --policy-name no-pull") for c in cmds)


def test_condition_pulldoctor_cannot_decide_is_named_and_not_certain(tmp_path: Path, moto_url: str) -> None:
    inst, _, _ = node_with_role(moto_url, [READ_ONLY])
    repo = repo_with_image(moto_url, policy={"Version": "2012-10-17", "Statement": [
        {"Sid": "OnlyVpce", "Effect": "Deny", "Principal": "*", "Action": "ecr:*",
         "Condition": {"StringNotEquals": {"aws:SourceVpce": "vpce-0abc"}}}]})
    image = f"{ECR}/{repo}:v1"
    f, _ = diagnose(tmp_path, moto_url, image, head_403(image), inst)
    assert f["cause"] == "forbidden" and f["confidence"] != "certain"
    assert "aws:SourceVpce" in json.dumps(f["evidence"]) and "OnlyVpce" in json.dumps(f["evidence"])


@pytest.mark.parametrize("message_kind", ["not found", "403"])
def test_describe_images_settles_tag_against_repository(tmp_path: Path, moto_url: str, message_kind: str) -> None:
    inst, _, _ = node_with_role(moto_url, [READ_ONLY])
    repo = repo_with_image(moto_url, tags=("v1.0.0", "v1.0.1", "latest"))
    image = f"{ECR}/{repo}:v1.0.2"
    msg = (f'failed to pull and unpack image "{image}": failed to resolve reference "{image}": {image}: not found'
           if message_kind == "not found" else head_403(image))
    f, _ = diagnose(tmp_path, moto_url, image, msg, inst)
    assert (f["cause"], f["confidence"]) == ("tag_not_found", "certain")
    assert "v1.0.1" in json.dumps(f["fixes"])
    image = f"{ECR}/shop/nothing-here:v1"
    msg = f'failed to pull and unpack image "{image}": failed to resolve reference "{image}": {image}: not found'
    f, _ = diagnose(tmp_path, moto_url, image, msg, inst)
    assert (f["cause"], f["confidence"]) == ("repo_not_found", "certain")


def test_unknown_instance_is_a_note(tmp_path: Path, moto_url: str) -> None:
    repo = repo_with_image(moto_url)
    image = f"{ECR}/{repo}:v1"
    f, notes = diagnose(tmp_path, moto_url, image, head_403(image), "i-0000000000000dead")
    assert f["cause"] == "forbidden" and f["confidence"] != "certain"
    assert "no instance i-0000000000000dead" in notes


def test_a_huge_repository_policy_is_one_note(tmp_path: Path, moto_url: str) -> None:
    """AWS (and moto) refuse malformed policies, but not every size: over the cap it is a note, not a verdict."""
    inst, _, _ = node_with_role(moto_url, [READ_ONLY])
    repo = repo_with_image(moto_url, policy={"Version": "2012-10-17", "Statement": [
        {"Sid": f"S{i}", "Effect": "Allow", "Principal": "*", "Action": "ecr:DescribeImages"} for i in range(1001)]})
    image = f"{ECR}/{repo}:v1"
    f, notes = diagnose(tmp_path, moto_url, image, head_403(image), inst)
    assert f["cause"] == "forbidden" and f["confidence"] != "certain"
    assert "more than 1000 statements" in notes and notes.count("repository policy") == 1


def test_a_malformed_policy_document_is_a_note_not_an_exception() -> None:
    """What boto3 hands back is not trusted either (a proxy, an endpoint that is not AWS)."""
    from pulldoctor.cloud import aws
    from pulldoctor.cloud.ecrtoken import EcrHost

    ev = aws.AwsEvidence("i-0123456789abcdef0", EcrHost("123456789012", "us-east-1"), "shop/app", "v1")
    for doc in ("{", ["not", "a", "policy"], {"Statement": [{"Effect": "Allow"}]}, "x" * 300_000):
        assert aws._add(ev, doc, "role's inline policy p") is False
    assert len(ev.notes) == 4 and all("\n" not in n and len(n) < 200 for n in ev.notes)


def test_an_aws_that_never_answers_is_one_note_within_bounds(tmp_path: Path) -> None:
    hole = Blackhole()
    try:
        image = f"{ECR}/shop/app:v1"
        started = time.monotonic()
        f, notes = diagnose(tmp_path, f"http://{hole.address}", image, head_403(image), "i-0123456789abcdef0")
        took = time.monotonic() - started
    finally:
        hole.close()
    assert f["cause"] == "forbidden" and f["confidence"] != "certain"
    assert "AWS did not answer ec2:DescribeInstances" in notes and "ReadTimeout" in notes
    assert took < 40, took


def test_no_credentials_is_one_note(tmp_path: Path, moto_url: str) -> None:
    env = {k: v for k, v in aws_env(moto_url).items() if not k.startswith(("AWS_ACCESS", "AWS_SECRET", "AWS_SESSION"))}
    image = f"{ECR}/shop/app:v1"
    f, notes = diagnose(tmp_path, moto_url, image, head_403(image), "i-0123456789abcdef0", env=env)
    assert "no AWS credentials" in notes and f["confidence"] != "certain"


def test_without_the_aws_extra_a_note_names_the_pip_install(tmp_path: Path, moto_url: str) -> None:
    """An install without boto3: a directory first on sys.path whose boto3 cannot be imported, as when the
    package is absent."""
    shadow = tmp_path / "shadow" / "boto3"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('No module named boto3')\n")
    env = {**aws_env(moto_url), "PYTHONPATH": f"{tmp_path / 'shadow'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    image = f"{ECR}/shop/app:v1"
    f, notes = diagnose(tmp_path, moto_url, image, head_403(image), "i-0123456789abcdef0", env=env)
    assert "pip install 'pulldoctor[aws]'" in notes and "Traceback" not in notes
    assert (f["cause"], f["confidence"]) == ("forbidden", "likely")


def test_serve_uses_the_same_evidence_cached_per_node_role_and_repository(
        tmp_path: Path, moto_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The exporter's findings carry the same verdict as diagnose; a second pod on the same node pulling from
    the same repository is answered from the cache (no second round of AWS reads)."""
    import urllib.request

    from kubeapi import FakeKubeAPI
    from kubeapi import objects as o
    from pulldoctor.exporter import Exporter, ExporterConfig

    for k, v in aws_env(moto_url).items():
        monkeypatch.setenv(k, v)
    inst, role, role_arn = node_with_role(moto_url, [READ_ONLY])
    repo = repo_with_image(moto_url, policy={"Version": "2012-10-17", "Statement": [
        {"Sid": "DenyNodeGroup", "Effect": "Deny", "Principal": {"AWS": role_arn}, "Action": "ecr:BatchGetImage"},
        {"Sid": "AllowAccount", "Effect": "Allow", "Principal": {"AWS": "123456789012"}, "Action": "ecr:*"}]})
    image = f"{ECR}/{repo}:v1"
    node = {**o.node("node-1"), "spec": {"providerID": f"aws:///us-east-1a/{inst}"}}
    pods = [o.pod(f"web-{i}", "default", containers=[o.container("app", image)],
                  statuses=[o.waiting("app", image, "ImagePullBackOff", head_403(image))]) for i in range(2)]
    with FakeKubeAPI([o.service_account("default", "default"), node, pods[0]]) as api:
        kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
        ex = Exporter(ExporterConfig(listen_host="127.0.0.1", listen_port=0, kubeconfig=str(kubeconfig),
                                     all_namespaces=True, probe=False, backoff_initial=0.1, backoff_max=0.5))
        try:
            ex.start()

            def findings() -> list[dict]:
                with urllib.request.urlopen(f"http://127.0.0.1:{ex.port}/findings", timeout=5) as r:
                    return json.loads(r.read())["findings"]

            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not [f for f in findings() if f["confidence"] == "certain"]:
                time.sleep(0.2)
            first = findings()
            assert [(f["pod"], f["cause"], f["confidence"]) for f in first] == [("web-0", "forbidden", "certain")]
            assert "DenyNodeGroup" in first[0]["summary"] and role in first[0]["summary"]
            cache = ex.cloud_cache
            assert cache is not None
            misses = cache.misses
            api.add(pods[1])
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and len(findings()) < 2:
                time.sleep(0.2)
            assert {(f["pod"], f["confidence"]) for f in findings()} == {("web-0", "certain"), ("web-1", "certain")}
            assert cache.misses == misses and cache.hits >= 3   # role, policies, repository: all from the cache
        finally:
            ex.stop(timeout=5)
        body = json.dumps(first)
        assert SECRET not in body and KEY_ID not in body


def test_refused_reads_are_notes_naming_the_permission(tmp_path: Path) -> None:
    """An AWS that refuses every read (the caller's role lacks them), answered in each service's own error
    format on loopback: EC2's Query XML and ECR's JSON protocol."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Refuse(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.headers.get("X-Amz-Target", "").startswith("AmazonEC2ContainerRegistry"):
                body = json.dumps({"__type": "AccessDeniedException", "message": "not authorized"}).encode()
                ctype = "application/x-amz-json-1.1"
            else:
                body = (b"<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not "
                        b"authorized</Message></Error></Errors><RequestID>r1</RequestID></Response>")
                ctype = "text/xml"
            self.send_response(403 if ctype == "text/xml" else 400)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        image = f"{ECR}/shop/app:v1"
        f, notes = diagnose(tmp_path, f"http://127.0.0.1:{server.server_port}", image, head_403(image),
                            "i-0123456789abcdef0")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    assert "AWS refused ec2:DescribeInstances (UnauthorizedOperation)" in notes
    assert "AWS refused ecr:DescribeImages (AccessDeniedException)" in notes
    assert "AWS refused ecr:GetRepositoryPolicy (AccessDeniedException)" in notes
    assert (f["cause"], f["confidence"]) == ("forbidden", "likely")


def test_registry_side_from_the_lab_nginx_and_aws_side_from_moto(tmp_path: Path, moto_url: str, lab) -> None:
    """The whole field report on real parts: the node's hosts.toml sends the ECR host's pulls to the lab's
    nginx, which answers 403 DENIED as ECR does; moto holds the role and the repository policy. The probe's
    anonymous 403 alone cannot speak for the node's credential provider (likely); AWS's policies prove it."""
    inst, role, role_arn = node_with_role(moto_url, [READ_ONLY])
    ecr = client(moto_url, "ecr")
    ecr.create_repository(repositoryName="denied/app")
    ecr.put_image(repositoryName="denied/app", imageTag="v1", imageManifest=json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"digest": "sha256:" + "b" * 64, "size": 1, "mediaType": "x"}, "layers": []}))
    ecr.set_repository_policy(repositoryName="denied/app", policyText=json.dumps({"Version": "2012-10-17",
        "Statement": [{"Sid": "DenyNodeGroup", "Effect": "Deny", "Principal": {"AWS": role_arn},
                       "Action": "ecr:BatchGetImage"}]}))
    certs_d = tmp_path / "certs.d" / ECR
    certs_d.mkdir(parents=True)
    (certs_d / "hosts.toml").write_text(f'server = "http://{lab.nginx}"\n')
    image = f"{ECR}/denied/app:v1"
    case = write_case(tmp_path / "case", image, head_403(image), provider_id=f"aws:///us-east-1a/{inst}")
    results = {}
    for extra in (["--no-cloud"], []):
        r = cli("diagnose", "--from", str(case), "--hosts-dir", str(tmp_path / "certs.d"), "-o", "json", *extra,
                env=aws_env(moto_url), timeout=120)
        assert r.returncode == 1, r.stderr
        assert SECRET not in r.stdout + r.stderr
        results[bool(extra)] = json.loads(r.stdout)["findings"][0]
    probed = results[True]
    assert probed["probe"]["cause"] == "forbidden" and probed["probe"]["status"] == 403, probed["probe"]
    # Only loopback was contacted: every step that names a host names the lab's nginx.
    hosts = {s.get("host") for s in probed["probe"]["steps"]} - {None}
    assert hosts and all(lab.nginx in h for h in hosts), hosts
    assert (probed["cause"], probed["confidence"]) == ("forbidden", "likely")
    assert "says nothing about the node's own pull" in json.dumps(probed["evidence"])
    proved = results[False]
    assert (proved["cause"], proved["confidence"]) == ("forbidden", "certain")
    assert "DenyNodeGroup" in proved["summary"] and role in proved["summary"]
