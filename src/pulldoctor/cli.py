"""The command line: parse arguments, call the library, map errors to exit codes.

Thin on purpose. Each subcommand lives in ``pulldoctor.commands.<name>`` and is imported only
when it runs, so ``pulldoctor ref`` never pays for the Kubernetes client or aiohttp.
Exit codes: 0 nothing wrong found, 1 problems found, 2 bad usage or unreadable input.
"""

from __future__ import annotations

import argparse
import errno
import gc
import importlib
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from pulldoctor import __version__
from pulldoctor.errors import PulldoctorError

OUTPUT_FORMATS = ("text", "json", "markdown")


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit code 2."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(2)


def _add_output(p: argparse.ArgumentParser, choices: Sequence[str] = OUTPUT_FORMATS) -> None:
    p.add_argument("-o", "--output", choices=choices, default="text", help="output format (default: text)")


def _add_cluster_scope(p: argparse.ArgumentParser) -> None:
    p.add_argument("-n", "--namespace", help="namespace to look at (default: the context's)")
    p.add_argument("-A", "--all-namespaces", action="store_true", help="look at every namespace")
    p.add_argument("--context", help="kubeconfig context to use")
    p.add_argument("--kubeconfig", help="path to the kubeconfig file")


def _add_request_timeout(p: argparse.ArgumentParser) -> None:
    p.add_argument("--request-timeout", type=_seconds, default=30.0, metavar="SECONDS",
                   help="give up on a Kubernetes API request after this long (default: 30)")


def _seconds(text: str) -> float:
    try:
        value = float(text.removesuffix("s"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError(f"must be between 0 and 3600 seconds: {text!r}")
    return value


def _add_registry_access(p: argparse.ArgumentParser, *, registries_conf: bool = False) -> None:
    p.add_argument(
        "--insecure-registry",
        action="append",
        default=[],
        metavar="HOST",
        help="registry the nodes reach over plain HTTP (repeatable); loopback hosts count by default",
    )
    p.add_argument("--ca-file", help="extra CA certificate (PEM) to trust for registry TLS")
    p.add_argument(
        "--hosts-dir",
        metavar="DIR",
        help="containerd registry config (certs.d: DIR/HOST/hosts.toml) to probe with, as the node's runtime would",
    )
    if registries_conf:
        p.add_argument(
            "--registries-conf",
            metavar="FILE",
            help="a CRI-O node's /etc/containers/registries.conf (mirrors, insecure, blocked) to probe with",
        )


def _add_node_logs(p: argparse.ArgumentParser) -> None:
    p.add_argument("--node-logs", action="append", default=[], metavar="PATH|NODE=FILE|api",
                   help="read the nodes' own logs and settings: an EKS log collector archive, a directory of "
                        "them, NODE=FILE (a journalctl export), or api (the kubelet's node log query, needs "
                        "nodes/proxy); repeatable (docs/node-logs.md)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="pulldoctor",
        description="Find every container that cannot get its image, prove why, and print the fix.",
    )
    parser.add_argument("--version", action="version", version=f"pulldoctor {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("diagnose", help="diagnose image pull failures in a cluster, snapshot or bundle")
    p.add_argument("pod", nargs="?", help="only this pod")
    _add_cluster_scope(p)
    p.add_argument("--from", dest="from_path", metavar="PATH",
                   help="read kubectl JSON/YAML files, a directory of them, or a bundle instead of a live cluster")
    _add_request_timeout(p)
    p.add_argument("--no-probe", action="store_true", help="do not contact the registries")
    p.add_argument("--no-cloud", action="store_true",
                   help="do not read cloud APIs (AWS IAM/EC2/ECR for ECR pulls; on only with pulldoctor[aws] "
                        "and AWS credentials)")
    p.add_argument("--credential-provider-config", metavar="FILE",
                   help="the kubelet's CredentialProviderConfig (YAML or JSON): its providers replace the "
                        "defaults for aws://, gce:// and azure:// nodes")
    _add_node_logs(p)
    p.add_argument("-v", "--verbose", action="store_true",
                   help="text: every container's evidence, all fix steps and what would settle each verdict")
    _add_registry_access(p, registries_conf=True)
    _add_output(p)
    p.set_defaults(handler="diagnose")

    p = sub.add_parser("classify", help="classify runtime error messages into causes")
    p.add_argument("messages", nargs="*", metavar="MESSAGE",
                   help="messages to classify; with none, read JSON Lines ({\"message\": ...}) from stdin")
    _add_output(p, ("text", "json"))
    p.set_defaults(handler="classify")

    p = sub.add_parser("probe", help="probe a registry for an image the way a node would pull it")
    p.add_argument("image", help="image reference, e.g. ghcr.io/org/app:1.2")
    p.add_argument("--docker-config", metavar="FILE", help="docker config.json with credentials to use")
    p.add_argument("--platform", metavar="OS/ARCH[/VARIANT]", help="platform the node runs (default: linux/amd64)")
    p.add_argument("--runtime", metavar="RUNTIME://VERSION",
                   help="the node's runtime, whose scheme and manifest rules the probe follows, as in the node's "
                        "containerRuntimeVersion: containerd://1.6.20, containerd://2.1.4, cri-o://1.33.0 "
                        "(default: the newest containerd; the newest CRI-O with --registries-conf)")
    _add_registry_access(p, registries_conf=True)
    _add_output(p, ("text", "json"))
    p.set_defaults(handler="probe")

    p = sub.add_parser("preflight", help="check manifests before a deploy: will their pods get their images?")
    p.add_argument("paths", nargs="*", metavar="PATH",
                   help="manifest files (YAML, multi-document, or JSON) or directories of them")
    p.add_argument("-f", "--filename", action="append", metavar="FILE",
                   help="a manifest file, or - for stdin (helm template … | pulldoctor preflight -f -)")
    p.add_argument("-n", "--namespace", metavar="NS", help="namespace of objects that name none (default: default)")
    p.add_argument("--platform", metavar="OS/ARCH[,OS/ARCH…]",
                   help="platforms of the nodes that will run the pods (default: the --context cluster's nodes', "
                        "else linux/amd64)")
    p.add_argument("--context", help="kubeconfig context of the cluster to deploy to: its pull secrets, service "
                                     "accounts and node platforms count where the inputs define none")
    p.add_argument("--kubeconfig", help="path to the kubeconfig file (reads the cluster, as --context)")
    _add_request_timeout(p)
    p.add_argument("--docker-config", metavar="FILE",
                   help="the nodes' own docker config.json credentials, tried after the pods' pull secrets")
    p.add_argument("--no-probe", action="store_true", help="do not contact the registries")
    _add_registry_access(p)
    _add_output(p, ("text", "json", "sarif"))
    p.add_argument("--fail-on", choices=("error", "warning"), default="error",
                   help="exit 1 on errors only (default) or on warnings too")
    p.set_defaults(handler="preflight")

    p = sub.add_parser("ref", help="parse and normalise an image reference as the kubelet and containerd do")
    p.add_argument("image", help="image reference")
    _add_output(p, ("text", "json"))
    p.set_defaults(handler="ref")

    p = sub.add_parser("collect", help="write a support bundle (secrets reduced to which registries they cover)")
    p.add_argument("-o", "--output", required=True, metavar="BUNDLE.tar.gz",
                   help="bundle file to write (an existing file is replaced atomically)")
    _add_cluster_scope(p)
    _add_request_timeout(p)
    _add_node_logs(p)
    p.set_defaults(handler="collect")

    p = sub.add_parser("serve", help="run the Prometheus exporter")
    p.add_argument("--listen", default="0.0.0.0:9754", metavar="ADDR:PORT",
                   help="address to serve metrics on (default 0.0.0.0:9754: every interface, as in a pod)")
    p.add_argument("--findings-endpoint", action="store_true",
                   help="also serve /findings, the diagnose JSON (it quotes the cluster's messages; off by default)")
    _add_cluster_scope(p)
    p.add_argument("--probe-interval", default="5m", metavar="DURATION",
                   help="re-probe a registry at most this often per credential (e.g. 30s, 5m)")
    p.add_argument("--no-probe", action="store_true", help="do not contact the registries")
    _add_request_timeout(p)
    _add_registry_access(p)
    p.set_defaults(handler="serve")

    return parser


MAX_ERROR_CHARS = 1000
_OUTPUT_ERRNOS = frozenset({errno.ENOSPC, errno.EIO, errno.EDQUOT, errno.EFBIG})


def error_line(message: str) -> str:
    """The error as ONE line of bounded length: control characters (a newline in a pasted reference)
    escaped, the middle of a huge echoed input cut, and any credential masked (``user:password@``, a
    ``Bearer``/``Basic`` value, a secret pulldoctor read such as the kubeconfig token)."""
    from pulldoctor.redact import mask_all

    line = "".join(c if c.isprintable() else repr(c)[1:-1] for c in mask_all(message))
    if len(line) > MAX_ERROR_CHARS:
        cut = len(line) - MAX_ERROR_CHARS
        line = f"{line[:MAX_ERROR_CHARS - 200]} …[{cut} characters cut]… {line[-200:]}"
    return line


def debug_report(err: BaseException) -> str:
    """The traceback ``PULLDOCTOR_DEBUG=1`` prints, through the same masking as every other output: the
    secrets pulldoctor read (kubeconfig token, passwords), header-like values and ``user:password@``
    masked, control characters but newlines escaped (``Invalid header value b'Bearer …'`` quotes a token)."""
    import traceback

    from pulldoctor.redact import log_safe_block

    return log_safe_block("".join(traceback.format_exception(err)))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``pulldoctor`` and ``kubectl-pulldoctor``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help(sys.stderr)
        return 2
    debug = os.environ.get("PULLDOCTOR_DEBUG") == "1"
    if sys.stdout is None:  # started with stdout closed (`>&-`): nowhere to write a result
        if sys.stderr is not None:
            sys.stderr.write("pulldoctor: standard output is closed\n")
        return 2
    frozen_before = gc.get_freeze_count()
    try:
        module = importlib.import_module(f"pulldoctor.commands.{args.handler}")
        code = int(module.run(args))
        sys.stdout.flush()  # a full disk or a closed pipe shows here, not as a message at exit
        return code
    except PulldoctorError as err:
        sys.stderr.write(f"pulldoctor: {error_line(str(err))}\n")
        return err.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("pulldoctor: interrupted\n")
        return 130
    except BrokenPipeError:
        # The reader went away (``| head``); nothing more to say.
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        except OSError:
            pass
        return 0
    except Exception as err:  # a bug: still one line, unless debugging
        if debug:
            sys.stderr.write(debug_report(err))
            return 3
        if isinstance(err, OSError) and err.errno in _OUTPUT_ERRNOS:  # stdout on a full disk, say
            sys.stderr.write(f"pulldoctor: cannot write the output: {err.strerror}\n")
            return 2
        sys.stderr.write(f"pulldoctor: internal error: {type(err).__name__} (set PULLDOCTOR_DEBUG=1 for details)\n")
        return 3
    finally:
        if not frozen_before:  # a command may freeze what it read (diagnose): a caller that goes on
            gc.unfreeze()      # gets it collectable again


if __name__ == "__main__":
    raise SystemExit(main())
