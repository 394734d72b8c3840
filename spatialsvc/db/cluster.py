"""The project-local PostgreSQL cluster under ``.spatialsvc/``.

Used when ``DATABASE_URL`` is not set.  ``initdb`` and ``pg_ctl`` refuse to run as root, so
when we are root they run as the ``postgres`` user, which then owns the data directory, the
socket directory and the log file.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from spatialsvc.errors import ConfigError, DatabaseUnavailable
from spatialsvc.settings import Settings

Echo = Callable[[str], None]
MIN_MAJOR = 15
PACKAGES = ["postgresql-15", "postgresql-15-postgis-3", "postgis"]


@dataclass(frozen=True)
class Cluster:
    """Where the local cluster lives and how to reach it."""

    root: Path
    port: int
    database: str

    @property
    def data_dir(self) -> Path:
        """PGDATA."""
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        """Unix socket directory."""
        return self.root / "run"

    @property
    def log_file(self) -> Path:
        """Server log."""
        return self.root / "postgres.log"

    def url(self, database: str | None = None) -> str:
        """Connection URL of this cluster."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database or self.database}"


def _is_root() -> bool:
    return os.geteuid() == 0


def _as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if _is_root() else cmd


def find_pg_bin(settings: Settings) -> Path | None:
    """Return the newest PostgreSQL ``bin`` folder (>= 15) that has PostGIS, if any."""
    if settings.pg_bin:
        return settings.pg_bin
    candidates = []
    for bindir in Path("/usr/lib/postgresql").glob("*/bin"):
        try:
            major = int(bindir.parent.name)
        except ValueError:
            continue
        has_postgis = Path(f"/usr/share/postgresql/{major}/extension/postgis.control").exists()
        if major >= MIN_MAJOR and (bindir / "initdb").exists() and has_postgis:
            candidates.append((major, bindir))
    return max(candidates)[1] if candidates else None


def install_postgis(echo: Echo) -> None:
    """Install PostgreSQL 15 and PostGIS 3 from the system's packages (Debian/Ubuntu)."""
    if shutil.which("apt-get") is None:
        raise DatabaseUnavailable(
            "PostgreSQL 15+ with PostGIS 3 is not installed and apt-get is not available: "
            "install them, or set DATABASE_URL"
        )
    prefix = [] if _is_root() else ["sudo", "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    echo("installing " + " ".join(PACKAGES) + " from the system's packages ...")
    for cmd in (
        [*prefix, "apt-get", "update", "-qq"],
        [*prefix, "apt-get", "install", "-y", "-qq", "--no-install-recommends", *PACKAGES],
    ):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            raise DatabaseUnavailable(f"{' '.join(cmd[:3])} failed: {tail[0]}")


def _reachable_by_postgres(path: Path) -> bool:
    done = subprocess.run(["runuser", "-u", "postgres", "--", "test", "-x", str(path)])
    return done.returncode == 0


def _cluster_root(settings: Settings) -> Path:
    """``.spatialsvc/pg``, or, when the postgres user cannot reach the checkout (a checkout in
    a private folder), a folder under /var/lib/spatialsvc linked from there."""
    root = settings.cluster_dir
    if root.is_symlink() or not _is_root():
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    if _reachable_by_postgres(root.parent):
        return root
    digest = hashlib.sha1(str(root.resolve()).encode()).hexdigest()[:12]
    target = Path("/var/lib/spatialsvc") / digest
    target.mkdir(parents=True, exist_ok=True)
    if root.exists() and not root.is_symlink():
        shutil.rmtree(root)
    root.symlink_to(target, target_is_directory=True)
    return root


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _state_file(root: Path) -> Path:
    return root / "cluster.json"


def local_cluster(settings: Settings) -> Cluster:
    """The local cluster as recorded by ``db up`` (or as it would be created)."""
    root = settings.cluster_dir.resolve()  # through the link, which postgres may not reach
    state = _state_file(root)
    port = settings.pg_port
    if state.exists():
        port = int(json.loads(state.read_text())["port"])
    return Cluster(root=root, port=port, database=settings.pg_database)


def _pg_ctl(bindir: Path, cluster: Cluster, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = _as_postgres([str(bindir / "pg_ctl"), "-D", str(cluster.data_dir), *args])
    return subprocess.run(cmd, capture_output=True, text=True)


def is_running(settings: Settings) -> bool:
    """Whether the local cluster's server is running."""
    bindir = find_pg_bin(settings)
    cluster = local_cluster(settings)
    if bindir is None or not (cluster.data_dir / "PG_VERSION").exists():
        return False
    return _pg_ctl(bindir, cluster, "status").returncode == 0


def up(settings: Settings, echo: Echo = print) -> Cluster:
    """Make sure the local cluster exists, runs, and has the project's database."""
    bindir = find_pg_bin(settings)
    if bindir is None:
        if not settings.install_packages:
            raise DatabaseUnavailable("PostgreSQL 15+ with PostGIS 3 is not installed")
        install_postgis(echo)
        bindir = find_pg_bin(settings)
        if bindir is None:
            raise DatabaseUnavailable("PostGIS was installed but no PostgreSQL 15+ was found")
    root = _cluster_root(settings).resolve()
    cluster = local_cluster(settings)
    cluster = Cluster(root=root, port=cluster.port, database=cluster.database)
    for d in (root, cluster.socket_dir):
        d.mkdir(parents=True, exist_ok=True)
    cluster.log_file.touch(exist_ok=True)
    if _is_root():
        shutil.chown(root, "postgres", "postgres")
        shutil.chown(cluster.socket_dir, "postgres", "postgres")
        shutil.chown(cluster.log_file, "postgres", "postgres")
    if not (cluster.data_dir / "PG_VERSION").exists():
        echo(f"creating a PostgreSQL cluster in {cluster.data_dir} ({bindir.parent.name}) ...")
        cmd = [str(bindir / "initdb"), "-D", str(cluster.data_dir), "-U", "postgres", "-A"]
        cmd += ["trust", "-E", "UTF8", "--locale=C.UTF-8"]
        done = subprocess.run(_as_postgres(cmd), capture_output=True, text=True)
        if done.returncode != 0:
            raise DatabaseUnavailable(f"initdb failed: {done.stderr.strip()[-300:]}")
    if _pg_ctl(bindir, cluster, "status").returncode != 0:
        port = cluster.port
        while not _port_free(port):
            port += 1
        cluster = Cluster(root=root, port=port, database=cluster.database)
        echo(f"starting PostgreSQL on 127.0.0.1:{port} (log: {cluster.log_file}) ...")
        opts = f"-p {port} -k {cluster.socket_dir} -c listen_addresses=127.0.0.1"
        opts += " -c max_wal_size=4GB"
        opts += " -c shared_buffers=512MB -c maintenance_work_mem=512MB -c work_mem=32MB"
        done = _pg_ctl(
            bindir, cluster, "-l", str(cluster.log_file), "-w", "-t", "60", "-o", opts, "start"
        )
        if done.returncode != 0:
            log_tail = cluster.log_file.read_text(errors="replace").strip().splitlines()[-3:]
            raise DatabaseUnavailable("PostgreSQL did not start: " + " | ".join(log_tail))
        _state_file(root).write_text(json.dumps({"port": port}))
    else:
        echo(f"PostgreSQL already running on 127.0.0.1:{cluster.port}")
    _ensure_database(cluster, echo)
    return cluster


def _ensure_database(cluster: Cluster, echo: Echo) -> None:
    import psycopg2
    from psycopg2 import sql

    conn = psycopg2.connect(cluster.url("postgres"))
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (cluster.database,))
            if cur.fetchone() is None:
                echo(f"creating database {cluster.database}")
                cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(cluster.database)))
    finally:
        conn.close()


def down(settings: Settings, echo: Echo = print) -> None:
    """Stop the local cluster if it runs."""
    bindir = find_pg_bin(settings)
    cluster = local_cluster(settings)
    if bindir is None or not (cluster.data_dir / "PG_VERSION").exists():
        echo("no local cluster")
        return
    if _pg_ctl(bindir, cluster, "status").returncode != 0:
        echo("local cluster is not running")
        return
    done = _pg_ctl(bindir, cluster, "-m", "fast", "-w", "stop")
    if done.returncode != 0:
        raise ConfigError(f"pg_ctl stop failed: {done.stderr.strip()[-300:]}")
    echo("stopped the local PostgreSQL cluster")


def database_url(settings: Settings) -> str:
    """The URL in use: ``DATABASE_URL`` when set, else the local cluster's."""
    if settings.database_url:
        return settings.database_url
    return local_cluster(settings).url()
