"""The rules, with small hand-made evidence: each test is one sentence of the diagnosis's specification."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pulldoctor.causes import Cause
from pulldoctor.cluster.context import NodeInfo, PullSecrets
from pulldoctor.cluster.failing import FailingContainer
from pulldoctor.cluster.timeline import Timeline
from pulldoctor.diagnosis import conclude
from pulldoctor.diagnosis.evidence import Evidence
from pulldoctor.diagnosis.model import Confidence
from pulldoctor.diagnosis.rules import RULES, decide, fixes
from pulldoctor.errors import InvalidReference
from pulldoctor.keyring import Credential, Entry, Lookup
from pulldoctor.messages import Classification
from pulldoctor.reference import ImageRef, parse
from pulldoctor.registry.models import ProbeResult, Step

NOW = datetime(2026, 11, 26, 13, 0, tzinfo=UTC)
HOST = "registry.acme.invalid"


def ref(image: str) -> ImageRef:
    return parse(image)


def cls(cause: Cause) -> Classification:
    return Classification(cause=cause, fields={}, signals=[cause])


def probe(cause: Cause | None, *, sent: bool = False, status: int | None = None, **kw: Any) -> ProbeResult:
    steps = [Step("manifest", cause is None, f"HEAD manifest → {status}" if status else "ok")]
    return ProbeResult(image="x", cause=cause, steps=steps, credentials_sent=sent, status=status, **kw)


def lookup(*keys: str, secret: str = "regcred") -> Lookup:
    matches = [Entry(key=k, source=f"secret shop/{secret}", credential=Credential("user", "pw"), has_username=True,
                     has_password=True) for k in keys]
    expl = "" if keys else f"secret {secret} has entries for ghcr.io; none matches {HOST}"
    return Lookup(image=f"{HOST}/shop/web", matches=matches, used_default_fallback=False, explanation=expl)


def ev(image: str = f"{HOST}/shop/web:1.4", *, cause: Cause | None = None, message: str = "m",
       reason: str = "ImagePullBackOff", **kw) -> Evidence:
    base: dict = {"namespace": "shop", "pod": "web-7d9c8b-x2x", "container": "app", "image": image,
                  "waiting_reason": reason, "waiting_message": message, "message": message,
                  "classification": cls(cause) if cause else None, "owner": ("Deployment", "web"), "now": NOW,
                  "lookup": lookup()}
    base.update(kw)
    if "ref" not in kw:
        base["ref"] = ref(image)
    return Evidence(**base)


def test_hedge_no_secret_anonymous_401_is_auth_missing() -> None:
    v = decide(ev(cause=Cause.REPO_NOT_FOUND_OR_NO_ACCESS, probe=probe(Cause.AUTH_MISSING, status=401)))
    assert (v.cause, v.confidence) == (Cause.AUTH_MISSING, Confidence.CERTAIN)
    assert any(e.source == "keyring" for e in v.evidence) and any(e.source == "probe" for e in v.evidence)


def test_hedge_matching_secret_refused_is_auth_invalid() -> None:
    e = ev(cause=Cause.REPO_NOT_FOUND_OR_NO_ACCESS, lookup=lookup(HOST),
           secrets=PullSecrets(names=["regcred"], source="pod"), probe=probe(Cause.AUTH_INVALID, sent=True, status=401))
    v = decide(e)
    assert (v.cause, v.confidence) == (Cause.AUTH_INVALID, Confidence.CERTAIN)
    assert any("regcred" in f.text or any("regcred" in c for c in f.commands) for f in fixes(v, e))


def test_hedge_with_credentials_and_no_repository_is_repo_not_found() -> None:
    v = decide(ev(cause=Cause.REPO_NOT_FOUND_OR_NO_ACCESS, lookup=lookup(HOST),
                  probe=probe(Cause.REPO_NOT_FOUND, sent=True, status=404)))
    assert (v.cause, v.confidence) == (Cause.REPO_NOT_FOUND, Confidence.CERTAIN)


def test_hedge_without_probe_stays_a_hedge_and_says_what_settles_it() -> None:
    v = decide(ev(cause=Cause.REPO_NOT_FOUND_OR_NO_ACCESS, probe_note="not probed (--no-probe)"))
    assert (v.cause, v.confidence) == (Cause.REPO_NOT_FOUND_OR_NO_ACCESS, Confidence.POSSIBLE)
    assert v.settle and "--no-probe" in v.settle[0]


def test_401_without_probe_is_never_certain() -> None:
    v = decide(ev(cause=Cause.AUTH_MISSING))
    assert v.cause == Cause.AUTH_MISSING and v.confidence == Confidence.LIKELY


def test_missing_secret_fix_names_it_and_the_service_account_patch() -> None:
    e = ev(cause=Cause.AUTH_MISSING, probe=probe(Cause.AUTH_MISSING, status=401),
           secrets=PullSecrets(names=["acme-pull"], source="service account builder", service_account="builder",
                               missing=["acme-pull"], problems=["secret shop/acme-pull does not exist"]))
    v = decide(e)
    assert v.cause == Cause.AUTH_MISSING
    cmds = [c for f in fixes(v, e) for c in f.commands]
    assert any(c.startswith("kubectl create secret docker-registry acme-pull") and f"--docker-server={HOST}" in c
               and "-n shop" in c for c in cmds)


def test_no_secret_fix_patches_owner_and_service_account() -> None:
    e = ev(cause=Cause.AUTH_MISSING, probe=probe(Cause.AUTH_MISSING, status=401))
    cmds = [c for f in fixes(decide(e), e) for c in f.commands]
    assert any(c.startswith("kubectl patch deployment web -n shop") for c in cmds)
    # The service account was not read: its list is appended to through a read-change-replace, never patched whole.
    assert any(c.startswith("kubectl get serviceaccount default -n shop -o json | jq ") and
               c.endswith("| kubectl replace -f -") for c in cmds), cmds
    assert not any(c.startswith("kubectl patch serviceaccount") for c in cmds), cmds


def test_tag_not_found_offers_closest_tags() -> None:
    e = ev(cause=Cause.TAG_NOT_FOUND, probe=probe(Cause.TAG_NOT_FOUND, status=404, suggestions=["1.4.0", "1.5"]))
    v = decide(e)
    assert (v.cause, v.confidence) == (Cause.TAG_NOT_FOUND, Confidence.CERTAIN)
    steps = fixes(v, e)
    cmds = [c for f in steps for c in f.commands]
    # No guessed version to paste (1.4.0 may be a downgrade): a TAG placeholder, the candidates in the text.
    assert cmds == [f"kubectl set image deployment/web app={HOST}/shop/web:TAG -n shop"]
    assert not any("1.4.0" in c or ":1.5" in c for c in cmds)
    assert "1.4.0, 1.5" in steps[0].text and "closest by name" in steps[0].text


def test_not_found_probe_sees_missing_repository() -> None:
    v = decide(ev(cause=Cause.TAG_NOT_FOUND, probe=probe(Cause.REPO_NOT_FOUND, status=404)))
    assert v.cause == Cause.REPO_NOT_FOUND


def test_unreachable_probe_keeps_message_cause_lower_confidence() -> None:
    v = decide(ev(cause=Cause.TAG_NOT_FOUND, probe=probe(Cause.DNS_FAILURE)))
    assert (v.cause, v.confidence) == (Cause.TAG_NOT_FOUND, Confidence.LIKELY)
    assert any(e.text.startswith("could not probe") for e in v.evidence)


def test_registry_serving_now_is_transient_with_retry_time() -> None:
    t = Timeline(failed=7, last_failure_at=NOW - timedelta(minutes=2), attempts=7, backoff_seconds=300,
                     next_attempt=NOW + timedelta(minutes=3))
    e = ev(cause=Cause.AUTH_MISSING, probe=probe(None, status=200), timeline=t)
    v = decide(e)
    assert v.transient and v.confidence == Confidence.POSSIBLE and v.cause == Cause.AUTH_MISSING
    assert "13:03:00Z (in 3m)" in v.summary and "deleting the pod" in v.summary
    assert fixes(v, e)[0].commands == ("kubectl delete pod web-7d9c8b-x2x -n shop",)


def test_dns_confirmed_by_probe_is_certain() -> None:
    v = decide(ev(cause=Cause.DNS_FAILURE, probe=probe(Cause.DNS_FAILURE)))
    assert (v.cause, v.confidence) == (Cause.DNS_FAILURE, Confidence.CERTAIN)


def test_dns_answering_from_here_is_not_refuted_but_flagged() -> None:
    v = decide(ev(cause=Cause.DNS_FAILURE, probe=probe(None, status=200)))
    assert v.cause == Cause.DNS_FAILURE and v.confidence == Confidence.LIKELY and v.contradictions


def test_loopback_registry_says_it_is_the_node() -> None:
    e = ev("localhost:5000/app:1", cause=Cause.NETWORK_UNREACHABLE, probe=probe(Cause.NETWORK_UNREACHABLE))
    v = decide(e)
    assert any("node itself" in x.text for x in v.evidence)
    assert any("node itself" in f.text for f in fixes(v, e))


def test_never_pull_with_node_image_list_is_certain() -> None:
    node = NodeInfo("node-a", "linux", "amd64", images=frozenset({"docker.io/library/busybox:1.36"}))
    v = decide(ev(reason="ErrImageNeverPull", pull_policy="Never", node=node, message=None))
    assert (v.cause, v.confidence) == (Cause.NEVER_PULL_ABSENT, Confidence.CERTAIN)


@pytest.mark.parametrize(("kubelet", "confidence", "verify"), [
    ("v1.35.0", Confidence.LIKELY, True), ("v1.36.2", Confidence.LIKELY, True), ("v1.34.3", Confidence.POSSIBLE, False),
])
def test_never_pull_with_the_image_on_a_verifying_kubelet_names_credential_verification(
        kubelet: str, confidence: Confidence, verify: bool) -> None:
    """KEP-2535 (beta, on by default in 1.35): a cached image whose pull credentials the pod cannot show is
    reported as "not present" under policy Never. The node listing it points at verification, not absence."""
    image = f"{HOST}/shop/web:1.4"
    node = NodeInfo("node-a", "linux", "amd64", images=frozenset({image}), kubelet_version=kubelet)
    e = ev(image, reason="ErrImageNeverPull", pull_policy="Never", node=node, message=None)
    v = decide(e)
    assert (v.cause, v.confidence) == (Cause.NEVER_PULL_ABSENT, confidence)
    assert ("KubeletEnsureSecretPulledImages" in v.summary) is verify
    first = fixes(v, e)[0].text
    assert ("pull secret that can pull it" in first) is verify and ("Load " in first) is not verify


def test_invalid_name_names_the_rule() -> None:
    err = InvalidReference("invalid reference format: repository name must be lowercase: Nginx",
                           rule="lowercase", part="Nginx")
    v = decide(ev("Nginx", reason="InvalidImageName", ref=None, ref_error=err))
    assert (v.cause, v.confidence) == (Cause.INVALID_IMAGE_NAME, Confidence.CERTAIN)
    assert "lowercase" in v.evidence[-1].text


def test_platform_mismatch_compares_node_and_index() -> None:
    node = NodeInfo("node-a", "linux", "amd64")
    e = ev(cause=Cause.PLATFORM_MISMATCH, node=node, probe=probe(Cause.PLATFORM_MISMATCH, platforms=["linux/arm64"]))
    v = decide(e)
    assert (v.cause, v.confidence) == (Cause.PLATFORM_MISMATCH, Confidence.CERTAIN)
    assert "linux/arm64" in v.summary and "linux/amd64" in v.summary


def test_disk_full_with_disk_pressure_is_certain() -> None:
    node = NodeInfo("node-b", disk_pressure=True)
    e = ev(cause=Cause.DISK_FULL, node=node)
    v = decide(e)
    assert (v.cause, v.confidence) == (Cause.DISK_FULL, Confidence.CERTAIN)
    assert any("crictl rmi --prune" in c for f in fixes(v, e) for c in f.commands)


def test_rate_limit_reports_remaining_budget() -> None:
    from pulldoctor.registry.models import RateLimit

    e = ev("docker.io/library/nginx:1.25", cause=Cause.RATE_LIMITED,
           probe=probe(Cause.RATE_LIMITED, status=429, ratelimit=RateLimit(limit=100, remaining=0, window=21600)))
    v = decide(e)
    assert (v.cause, v.confidence) == (Cause.RATE_LIMITED, Confidence.CERTAIN)
    assert any("0 pulls left of 100" in x.text for x in v.evidence)


def test_progress_deadline_fix_names_the_runtime_settings() -> None:
    e = ev(cause=Cause.PULL_TIMEOUT_OR_PROGRESS_DEADLINE, node=NodeInfo("n", runtime_version="containerd://1.7.2"))
    text = " ".join(f.text + " ".join(f.commands) for f in fixes(decide(e), e))
    assert "image_pull_progress_timeout" in text and "systemctl restart containerd" in text
    assert "pull_progress_timeout" not in text.replace("image_pull_progress_timeout", "")  # no CRI-O advice


def _sampled(rate: float | None, *, ttfb: float | None = 0.01, size: int = 200 * 1024 * 1024, error: str = ""):
    from pulldoctor.registry.models import Throughput

    tp = Throughput("sha256:" + "a" * 64, size // 2, received=int((rate or 0) * 3), seconds=3.0, ttfb=ttfb,
                    rate=rate, status=206 if ttfb is not None else None, capped_by="time", error=error)
    return probe(None, size=size, throughput=tp)


def _deadline_text(e: Evidence) -> tuple[str, str]:
    v = decide(e)
    said = " ".join([v.summary, *(x.text for x in v.evidence)])
    return said, " ".join(f.text + " " + " ".join(f.commands) for f in fixes(v, e))


def test_slow_but_moving_pull_gets_rate_estimate_and_the_runtime_setting() -> None:
    e = ev(cause=Cause.PULL_TIMEOUT_OR_PROGRESS_DEADLINE, probe=_sampled(100 * 1024),
           node=NodeInfo("n", runtime_version="containerd://1.7.2"))
    said, fix = _deadline_text(e)
    assert "slow but moving" in said and "about 34m" in said  # 200 MiB at 100 KiB/s
    assert "200.0 MiB compressed" in said and "100.0 KiB/s" in said
    assert "without a new byte" in said and "does not limit the total" in said
    assert "At 100.0 KiB/s the image (200.0 MiB)" in fix and 'image_pull_progress_timeout = "15m"' in fix
    assert '[plugins."io.containerd.grpc.v1.cri"]' in fix and "CRI-O" not in fix


def test_unmeasured_pull_tells_how_to_choose_between_path_and_deadline() -> None:
    e = ev(cause=Cause.PULL_TIMEOUT_OR_PROGRESS_DEADLINE, probe=None, node=NodeInfo("n", runtime_version="containerd://1.7.2"))
    _said, fix = _deadline_text(e)
    assert "not known" in fix and fix.index("crictl pull") < fix.index('image_pull_progress_timeout = "15m"')
    assert fix.index("If no bytes arrive") < fix.index("Only if bytes move but slowly") < fix.index('"15m"')


def test_stall_is_named_and_raising_the_deadline_is_not_the_fix() -> None:
    stalled = ev(cause=Cause.PULL_TIMEOUT_OR_PROGRESS_DEADLINE, probe=_sampled(None, ttfb=None),
                 node=NodeInfo("n", runtime_version="cri-o://1.32.3"))
    said, fix = _deadline_text(stalled)
    assert "stalls" in said and "no byte" in said
    # Chosen by the evidence: a stall gets the path, and no advice to raise the deadline (issue 14, item 6).
    assert "only waits longer" in fix and "leave pull_progress_timeout as it is" in fix
    assert '"15m"' not in fix and "systemctl restart" not in fix and "containerd" not in fix
    timed_out = ev(cause=Cause.PULL_TIMEOUT_OR_PROGRESS_DEADLINE,
                   probe=probe(Cause.PULL_TIMEOUT_OR_PROGRESS_DEADLINE), node=NodeInfo("n"))
    assert "stalls" in decide(timed_out).summary


def test_fast_from_here_points_at_the_node_path() -> None:
    e = ev(cause=Cause.PULL_TIMEOUT_OR_PROGRESS_DEADLINE, probe=_sampled(50 * 1024 * 1024),
           node=NodeInfo("n", runtime_version="docker://24.0.7"))
    v = decide(e)
    said, fix = _deadline_text(e)
    assert "fast from here" in said and v.contradictions
    assert "--image-pull-progress-deadline" in fix and "image_pull_progress_timeout" not in fix


@pytest.mark.parametrize("version, words", [
    ("containerd://1.6.20", "has no pull progress deadline"),
    ("containerd://2.0.2", '[plugins."io.containerd.cri.v1.images"]'),
    ("cri-o://1.33.1", "off by default"),
    ("cri-o://1.32.6", "off by default"),
    ("cri-o://1.31.0", "has no pull progress deadline"),
])
def test_deadline_advice_follows_the_runtime_version(version: str, words: str) -> None:
    e = ev(cause=Cause.PULL_TIMEOUT_OR_PROGRESS_DEADLINE, probe=_sampled(10 * 1024),
           node=NodeInfo("n", runtime_version=version))
    said, fix = _deadline_text(e)
    assert words in fix
    assert said.count("deadline") >= 1


def test_unknown_runtime_lists_every_runtimes_setting() -> None:
    e = ev(cause=Cause.PULL_TIMEOUT_OR_PROGRESS_DEADLINE)
    _said, fix = _deadline_text(e)
    assert all(w in fix for w in ("image_pull_progress_timeout", "pull_progress_timeout", "--image-pull-progress"))


def test_forbidden_on_ecr_points_at_the_repository_policy() -> None:
    img = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/api:2"
    e = ev(img, cause=Cause.FORBIDDEN, probe=probe(Cause.FORBIDDEN, status=403))
    cmds = [c for f in fixes(decide(e), e) for c in f.commands]
    assert "aws ecr get-repository-policy --repository-name team/api --region eu-west-1" in cmds


def test_no_message_and_no_probe_is_other_possible() -> None:
    v = decide(ev(message=None))
    assert (v.cause, v.confidence) == (Cause.OTHER, Confidence.POSSIBLE)


def test_every_cause_has_one_rule() -> None:
    covered = [c for r in RULES for c in r.causes]
    assert sorted(covered) == sorted(set(covered)) and set(covered) == set(Cause)


@pytest.mark.parametrize("n", [3])
def test_same_cause_on_one_registry_is_one_group(n: int) -> None:
    evs = [ev(f"{HOST}/shop/svc{i}:1", cause=Cause.DNS_FAILURE, probe=probe(Cause.DNS_FAILURE), pod=f"p{i}")
           for i in range(n)]
    evs.append(ev(cause=Cause.TAG_NOT_FOUND, probe=probe(Cause.TAG_NOT_FOUND, status=404), pod="lonely"))
    d = conclude(evs)
    assert len(d.groups) == 1
    g = d.groups[0]
    assert (g.cause, g.scope, g.key, len(g.members)) == (Cause.DNS_FAILURE, "registry", HOST, n)


def test_probe_requests_are_deduplicated_per_image_credentials_platform(monkeypatch) -> None:
    from pulldoctor.diagnosis import probing

    seen: list[list] = []

    async def fake_probe_many(requests, options):
        seen.append(list(requests))
        return [probe(Cause.TAG_NOT_FOUND, status=404) for _ in requests]

    monkeypatch.setattr("pulldoctor.registry.probe_many", fake_probe_many)
    node = NodeInfo("n1", "linux", "arm64")
    evs = [ev(pod=f"p{i}") for i in range(5)] + [ev(pod="arm", node=node),
                                                 ev("Nginx", reason="InvalidImageName", ref=None,
                                                    ref_error=InvalidReference("x"))]
    notes = probing.attach(evs, probing.live(probing.options()))
    assert len(seen) == 1 and len(seen[0]) == 2   # one batch: amd64 default and the arm64 node
    assert sorted(r.platform for r in seen[0]) == ["linux/amd64", "linux/arm64"]
    assert all(e.probe is not None for e in evs[:6]) and evs[6].probe is None and evs[6].probe_note
    assert notes[0].startswith("probed 2 distinct")


def test_anonymous_success_does_not_clear_credentials_it_could_not_test() -> None:
    # A bundle: the kubelet sends a secret whose values pulldoctor never saw; the image is public.
    e = ev(cause=Cause.AUTH_INVALID, lookup=lookup(HOST), secrets=PullSecrets(names=["regcred"], source="pod"),
           probe=probe(None, status=200, sent=False))
    v = decide(e)
    assert not v.transient and v.cause == Cause.AUTH_INVALID and v.confidence == Confidence.LIKELY


def _fc(**kw: object) -> FailingContainer:
    base: dict = {"namespace": "shop", "pod": "web-1", "pod_uid": "", "container": "app", "container_type": "regular",
                  "image": f"{HOST}/shop/web:1.4", "waiting_reason": "ImagePullBackOff", "waiting_message": "",
                  "pull_policy": "IfNotPresent", "node": "", "timeline": Timeline(), "pull_secrets": PullSecrets(),
                  "keyring_entries": [], "owner": ("ReplicaSet", "web-7d9c8b"), "node_info": None}
    base.update(kw)
    return FailingContainer(**base)


def test_old_kubelet_backoff_message_falls_back_to_the_newest_failed_event() -> None:
    from pulldoctor.diagnosis.gather import evidence_for

    t = Timeline(failed=3, last_failure_message=f'{HOST}/shop/web:1.4: not found',
                     last_failure_at=NOW - timedelta(minutes=2))
    e = evidence_for(_fc(waiting_message=f'Back-off pulling image "{HOST}/shop/web:1.4"', timeline=t), now=NOW)
    assert e.message.endswith(": not found") and e.message_source == "event Failed x3 (last 2m ago)"
    assert e.owner == ("Deployment", "web")


def test_expired_events_are_said_and_the_waiting_message_is_used() -> None:
    from pulldoctor.diagnosis.gather import evidence_for

    msg = "pulling from host registry.acme.invalid failed with status code [manifests 1.4]: 401 Unauthorized"
    e = evidence_for(_fc(waiting_message=msg, timeline=Timeline(events_expired=True)), now=NOW)
    v = decide(e)
    assert e.message_source == "waiting message"
    assert any("expired" in x.text for x in v.evidence)


def test_docker_hub_rate_limit_advice_authenticates_and_mirrors() -> None:
    e = ev("nginx:1.25", cause=Cause.RATE_LIMITED, probe_note="not probed (--no-probe)",
           message="toomanyrequests: You have reached your pull rate limit. You may increase the limit by "
                   "authenticating and upgrading: https://www.docker.com/increase-rate-limit")
    v = decide(e)
    assert (v.cause, v.confidence) == (Cause.RATE_LIMITED, Confidence.LIKELY)
    said = " ".join(f.text + " " + " ".join(f.commands) for f in fixes(v, e))
    assert "--docker-server=https://index.docker.io/v1/" in said and "mirror" in said


@pytest.mark.parametrize("cause", sorted(Cause))
@pytest.mark.parametrize("state", ["none", "pullable", "pullable-untested", "dns", "same", "401", "404"])
def test_every_cause_with_every_probe_outcome_gives_a_verdict(cause: Cause, state: str) -> None:
    """No combination of claim and probe outcome crashes a rule or ends certain without a probe."""
    probes = {"none": None, "pullable": probe(None, status=200, sent=True), "pullable-untested": probe(None),
              "dns": probe(Cause.DNS_FAILURE), "same": probe(cause if cause != Cause.OTHER else None),
              "401": probe(Cause.AUTH_MISSING, status=401), "404": probe(Cause.REPO_NOT_FOUND, status=404)}
    e = ev(cause=cause, probe=probes[state], lookup=lookup(HOST) if state == "pullable-untested" else lookup())
    v = decide(e)
    assert v.cause in set(Cause) and v.summary and fixes(v, e)
    if state in ("none", "dns") and cause not in (Cause.DNS_FAILURE,):
        assert v.confidence != Confidence.CERTAIN or cause in (Cause.INVALID_IMAGE_NAME, Cause.NEVER_PULL_ABSENT,
                                                              Cause.DISK_FULL, Cause.PLATFORM_MISMATCH)


def test_run_is_the_pipeline_and_a_prober_only_answers() -> None:
    """`diagnosis.run` asks the prober about each container a probe can settle (with its request) and puts
    the answers, or the prober's reason for none, on the findings; node-side failures are never asked."""
    from pathlib import Path

    from pulldoctor.cluster import find_failing, load_snapshot
    from pulldoctor.diagnosis import ProbeAnswers, run

    snapshot = load_snapshot(str(Path(__file__).resolve().parents[1] / "examples" / "cluster"))
    report = find_failing(snapshot)
    asked: list[str] = []

    def prober(wanted):  # answers the first request only
        asked.extend(ev.pod for ev, _ in wanted)
        found = probe(Cause.TAG_NOT_FOUND, status=404)
        return ProbeAnswers([found] + [None] * (len(wanted) - 1), "held by a test", notes=["a test's note"])

    d = run(report, snapshot, probe=prober)
    by_pod = {f.pod: f for f in d.findings}
    assert asked and len(asked) < len(d.findings)          # the example has node-side failures too
    assert by_pod[asked[0]].probe is not None and by_pod[asked[0]].probe["cause"] == "tag_not_found"
    assert all(by_pod[p].probe == {"skipped": "held by a test"} for p in asked[1:])
    assert {by_pod[f.pod].probe["skipped"] for f in d.findings if f.pod not in asked} == {  # type: ignore[index]
        "not probed (a node-side failure)"}
    assert d.notes[-1] == "a test's note" and d.notes[:len(report.notes)] == report.notes
    assert {f.pod: f.probe for f in run(report, snapshot).findings} == {
        f.pod: {"skipped": "not probed (--no-probe)"} for f in d.findings}


@pytest.mark.parametrize(("cluster", "selector"), [
    ({"linux/amd64": ["n"], "linux/arm64": ["arm-1"]}, "arm64"),   # some node runs the image: offer it
    ({"linux/amd64": ["n", "m"]}, None),                           # none does: a nodeSelector would leave it Pending
])
def test_platform_fix_offers_only_architectures_the_cluster_has(cluster: dict[str, list[str]],
                                                                selector: str | None) -> None:
    e = ev(cause=Cause.PLATFORM_MISMATCH, probe=probe(None, platforms=["linux/arm64"]),
           node=NodeInfo("n", os="linux", arch="amd64"), cluster_platforms=cluster)
    v = decide(e)
    assert v.cause == Cause.PLATFORM_MISMATCH
    steps = fixes(v, e)
    cmds = [c for f in steps for c in f.commands]
    patches = [c for c in cmds if "nodeSelector" in c]
    if selector:
        assert patches == [f"kubectl patch deployment web -n shop -p '{{\"spec\":{{\"template\":{{\"spec\":"
                           f"{{\"nodeSelector\":{{\"kubernetes.io/arch\":\"{selector}\"}}}}}}}}}}'"]
        assert "arm-1" in steps[-1].text
    else:
        assert patches == [] and "None of the 2 node(s) read (m, n; linux/amd64) can run it" in steps[-1].text
        assert steps[-1].commands == ("kubectl get nodes -L kubernetes.io/arch",)
    build = next(c for c in cmds if c.startswith("docker buildx build"))
    assert f"-t {HOST}/shop/web:NEW_TAG --push" in build and ":1.4 " not in build
