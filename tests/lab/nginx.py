"""nginx in front of the open registry: the failure modes a registry alone never produces.

The config is research/real-components.md Appendix A with ports substituted, plus a Bearer-protected
repository (nginx-only logic: a token endpoint that checks Basic credentials, a location that checks the
token), per-repository rate-limit budgets, 5xx locations and a parseable access log.
"""

from __future__ import annotations

import base64
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from . import procs
from .tls import CertPair, ExpiredCert

NGINX_BIN = "nginx"
RATELIMIT_BUDGET = 5  # limit_req burst=4 nodelay + the first request
ECHO_TOKEN = "lab-echo-token-5e1d9a7b3c"  # what /echo-token grants; echobearer/ then quotes it back
LOG_FORMAT = "$request_method\\t$request_uri\\t$status"

TOOMANY_BODY = ('{"errors":[{"code":"TOOMANYREQUESTS","message":"You have reached your pull rate limit. '
                'You may increase the limit by authenticating and upgrading: '
                'https://www.docker.com/increase-rate-limit"}]}\\n')


#: ECR's 403 for an expired authorization token (research/ecr-and-nodes.md).
ECR_EXPIRED_BODY = ('{"errors":[{"code":"DENIED","message":"Your authorization token has expired. '
                    'Reauthenticate and try again."}]}\\n')


@dataclass(frozen=True)
class NginxPorts:
    http: int
    tls: int           # self-signed localhost certificate
    tls_trusted: int   # the same certificate on a second port, for clients told to trust it
    tls_wrongname: int
    tls_expired: int = 0   # a localhost certificate whose validity ended (0: not served)


def _challenge(realm: str, service: str, repo_var: str, extra: str = "") -> str:
    return f'Bearer realm="{realm}",service="{service}",scope="repository:${repo_var}:pull"{extra}'


def render_config(root: Path, ports: NginxPorts, upstream: str, cert: CertPair, wrong: CertPair,
                  *, basic: str, token: str, as_root: bool, expired: CertPair | None = None,
                  user: str = "", password: str = "") -> str:
    """The whole nginx.conf. ``basic``/``token`` are the only accepted credentials on ``bearer/``."""
    expired_server = "" if expired is None or not ports.tls_expired else f"""
  server {{
    listen 127.0.0.1:{ports.tls_expired} ssl;
    ssl_certificate     {expired.cert};
    ssl_certificate_key {expired.key};
    proxy_set_header Host $http_host;
    location / {{ proxy_pass http://registry; }}
  }}"""
    web = f"http://127.0.0.1:{ports.http}"
    unauthorized = ('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required",'
                    '"detail":[{"Type":"repository","Class":"","Name":"$REPO","Action":"pull"}]}]}\\n')
    api = "add_header Docker-Distribution-Api-Version registry/2.0 always;"
    user = "user root root;" if as_root else ""
    return f"""
{user}
worker_processes 1;
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log notice;
events {{ worker_connections 512; }}

http {{
  log_format lab "{LOG_FORMAT}";
  access_log {root}/access.log lab;
  client_body_temp_path {root}/tmp/body;
  proxy_temp_path       {root}/tmp/proxy;
  fastcgi_temp_path     {root}/tmp/fastcgi;
  uwsgi_temp_path       {root}/tmp/uwsgi;
  scgi_temp_path        {root}/tmp/scgi;
  client_max_body_size 0;
  default_type application/json;

  upstream registry {{ server {upstream}; }}

  # One rate-limit budget per repository under ratelimited/ (key = its first path segment):
  # 1 request/min refill, burst 4 => {RATELIMIT_BUDGET} requests pass, then 429.
  map $uri $rl_key {{
    ~^/v2/ratelimited/(?<rl>[^/]+)/ $rl;
    default "";
  }}
  limit_req_zone $rl_key zone=pulls:1m rate=1r/m;

  map $http_authorization $hub_challenge {{
    ""      '{_challenge(web + "/token", "lab.hub", "hub_repo")}';
    default '{_challenge(web + "/token", "lab.hub", "hub_repo", ',error="insufficient_scope"')}';
  }}
  map $http_authorization $bearer_challenge {{
    ""      '{_challenge(web + "/bearer-token", "lab.bearer", "bearer_repo")}';
    default '{_challenge(web + "/bearer-token", "lab.bearer", "bearer_repo", ',error="invalid_token"')}';
  }}
  # regex maps: plain string maps in nginx compare ignoring case
  map $http_authorization $bearer_creds_ok {{
    "~^Basic {basic.replace('+', '[+]')}$" 1;
    default 0;
  }}
  map $http_authorization $bearer_token_ok {{
    "~^Bearer {token}$" 1;
    default 0;
  }}

  server {{
    listen 127.0.0.1:{ports.http};
    server_name localhost;
    proxy_set_header Host $http_host;
    proxy_set_header X-Forwarded-Proto $scheme;
    proxy_read_timeout 900s;

    location / {{ proxy_pass http://registry; }}

    location ~ ^/v2/denied/ {{
      {api}
      return 403 '{{"errors":[{{"code":"DENIED","message":"requested access to the resource is denied"}}]}}\\n';
    }}

    # ECR's answer to an expired authorization token (research/ecr-and-nodes.md), whatever was sent.
    location ~ ^/v2/ecrexpired/ {{
      {api}
      return 403 '{ECR_EXPIRED_BODY}';
    }}

    location ~ ^/v2/toomany/ {{
      {api}
      add_header ratelimit-limit "100;w=21600" always;
      add_header ratelimit-remaining "0;w=21600" always;
      add_header docker-ratelimit-source "127.0.0.1" always;
      return 429 '{TOOMANY_BODY}';
    }}

    location ~ ^/v2/ratelimited/ {{
      limit_req zone=pulls burst=4 nodelay;
      limit_req_status 429;
      error_page 429 = @toomany;
      add_header ratelimit-limit "{RATELIMIT_BUDGET};w=60" always;
      proxy_pass http://registry;
    }}
    location @toomany {{
      {api}
      add_header ratelimit-limit "{RATELIMIT_BUDGET};w=60" always;
      add_header ratelimit-remaining "0;w=60" always;
      add_header Retry-After "60" always;
      return 429 '{TOOMANY_BODY}';
    }}

    location ~ ^/v2/error500/ {{
      {api}
      return 500 '{{"errors":[{{"code":"UNKNOWN","message":"unknown error"}}]}}\\n';
    }}
    location ~ ^/v2/error503/ {{
      {api}
      return 503 '{{"errors":[{{"code":"UNAVAILABLE","message":"service unavailable"}}]}}\\n';
    }}

    # slow pull: manifests resolve normally, blob bodies trickle (first 4 KiB fast, then 2 KiB/s)
    location ~ ^/v2/slow/.+/blobs/ {{
      limit_rate_after 4k;
      limit_rate 2k;
      proxy_pass http://registry;
    }}
    # total stall: the header bytes are rate-limited too, so no status line ever completes
    location ~ ^/v2/stall/ {{
      limit_rate 1;
      proxy_pass http://registry;
    }}

    # Docker-Hub-like: anonymous token, then insufficient_scope ("repository does not exist or may require ...")
    location ~ ^/v2/(?<hub_repo>hubmissing/.+?)/(manifests|blobs|tags)/ {{
      {api}
      add_header WWW-Authenticate $hub_challenge always;
      return 401 '{unauthorized.replace("$REPO", "$hub_repo")}';
    }}
    location = /token {{
      return 200 '{{"token":"anonymous-token","access_token":"anonymous-token","expires_in":300}}\\n';
    }}

    # Bearer challenge whose token endpoint refuses everyone (bad Hub credentials)
    location ~ ^/v2/(?<tf_repo>tokenfail/.+?)/(manifests|blobs|tags)/ {{
      {api}
      add_header WWW-Authenticate '{_challenge(web + "/token-denied", "lab.hub", "tf_repo")}' always;
      return 401 '{unauthorized.replace("$REPO", "$tf_repo")}';
    }}
    location = /token-denied {{
      return 401 '{{"details":"incorrect username or password"}}\\n';
    }}

    # Hostile proxies that quote the request's Authorization header in their error bodies: echobasic/
    # (Basic challenge, then 403 quoting the header), echotoken/ (a token realm whose 401 quotes the Basic
    # header), echobearer/ (a realm that grants ECHO_TOKEN, then a 500 quoting "Bearer ECHO_TOKEN");
    # userinfo500/ quotes an upstream URL with the lab's user:password@ in it.
    location ~ ^/v2/echobasic/ {{
      {api}
      if ($http_authorization = "") {{
        {api}
        add_header WWW-Authenticate 'Basic realm="lab-echo"' always;
        return 401 '{{"errors":[{{"code":"UNAUTHORIZED","message":"authentication required"}}]}}\\n';
      }}
      return 403 '{{"errors":[{{"code":"DENIED","message":"proxy refused Authorization: $http_authorization"}}]}}\\n';
    }}
    location ~ ^/v2/(?<et_repo>echotoken/.+?)/(manifests|blobs|tags)/ {{
      {api}
      add_header WWW-Authenticate '{_challenge(web + "/echo-token-denied", "lab.echo", "et_repo")}' always;
      return 401 '{unauthorized.replace("$REPO", "$et_repo")}';
    }}
    location = /echo-token-denied {{
      return 401 '{{"details":"incorrect credentials in Authorization: $http_authorization"}}\\n';
    }}
    location ~ ^/v2/(?<eb_repo>echobearer/.+?)/(manifests|blobs|tags)/ {{
      if ($http_authorization !~ "^Bearer ") {{
        {api}
        add_header WWW-Authenticate '{_challenge(web + "/echo-token", "lab.echo", "eb_repo")}' always;
        return 401 '{unauthorized.replace("$REPO", "$eb_repo")}';
      }}
      {api}
      return 500 '{{"errors":[{{"code":"UNKNOWN","message":"upstream refused $http_authorization"}}]}}\\n';
    }}
    location = /echo-token {{
      return 200 '{{"token":"{ECHO_TOKEN}","expires_in":300}}\\n';
    }}
    location ~ ^/v2/userinfo500/ {{
      {api}
      return 500 '{{"errors":[{{"code":"UNKNOWN","message":"upstream https://{user}:{password}@mirror.pulldoctor.invalid/v2/ failed"}}]}}\\n';
    }}

    # Bearer-protected repository: the token endpoint gives a token only for the lab user's Basic
    # credentials (an OAuth POST is refused with 401 so clients fall back to GET, as containerd does);
    # the repository accepts only that token.
    location ~ ^/v2/(?<bearer_repo>bearer/.+?)/(manifests|blobs|tags)/ {{
      if ($bearer_token_ok = 0) {{
        {api}
        add_header WWW-Authenticate $bearer_challenge always;
        return 401 '{unauthorized.replace("$REPO", "$bearer_repo")}';
      }}
      proxy_pass http://registry;
    }}
    location = /bearer-token {{
      if ($request_method = POST) {{
        return 401 '{{"details":"incorrect username or password"}}\\n';
      }}
      if ($bearer_creds_ok = 0) {{
        return 401 '{{"details":"incorrect username or password"}}\\n';
      }}
      return 200 '{{"token":"{token}","access_token":"{token}","expires_in":300}}\\n';
    }}
  }}

  server {{
    listen 127.0.0.1:{ports.tls} ssl;
    listen 127.0.0.1:{ports.tls_trusted} ssl;
    ssl_certificate     {cert.cert};
    ssl_certificate_key {cert.key};
    proxy_set_header Host $http_host;
    location / {{ proxy_pass http://registry; }}
  }}
  server {{
    listen 127.0.0.1:{ports.tls_wrongname} ssl;
    ssl_certificate     {wrong.cert};
    ssl_certificate_key {wrong.key};
    proxy_set_header Host $http_host;
    location / {{ proxy_pass http://registry; }}
  }}{expired_server}
}}
"""


def start_nginx(root: Path, upstream: str, cert: CertPair, wrong: CertPair, *, user: str,
                password: str, expired: ExpiredCert | None = None) -> tuple[procs.Proc, NginxPorts]:
    """Write the config and start nginx in the foreground; readiness is the caller's job."""
    for sub in ("tmp/body", "tmp/proxy", "tmp/fastcgi", "tmp/uwsgi", "tmp/scgi"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    ports = NginxPorts(*(procs.free_port() for _ in range(4)),
                       tls_expired=procs.free_port() if expired is not None else 0)
    basic = base64.b64encode(f"{user}:{password}".encode()).decode()
    token = "lab-token-" + secrets.token_hex(8)
    conf = root / "nginx.conf"
    conf.write_text(render_config(root, ports, upstream, cert, wrong, basic=basic, token=token,
                                  as_root=os.geteuid() == 0, expired=expired.leaf if expired else None,
                                  user=user, password=password))
    conf.chmod(0o600)
    proc = procs.start("nginx", [NGINX_BIN, "-p", str(root), "-c", str(conf), "-e", str(root / "error.log")],
                       root / "nginx.out")
    return proc, ports


def read_access_log(path: Path, limit: int = 50_000_000) -> list[tuple[str, str, int]]:
    """(method, path without query, status) for each logged request, oldest first."""
    try:
        with open(path, "rb") as f:
            data = f.read(limit)
    except FileNotFoundError:
        return []
    rows: list[tuple[str, str, int]] = []
    for line in data.decode("utf-8", "replace").splitlines():
        parts = line.split("\t")
        if len(parts) != 3 or not parts[2].isdigit():
            continue
        rows.append((parts[0], parts[1].split("?", 1)[0], int(parts[2])))
    return rows
