"""A real single-node Apache Kafka (KRaft) on this machine, from Maven Central jars.

Our machines have Java and Maven but no Docker, so ``storystream broker start`` fetches Kafka's
jars with ``mvn`` (``deploy/kafka/pom.xml``), caches them outside the repo, formats a KRaft
storage directory and runs the broker in combined broker+controller mode with a small heap.
Start waits until the broker answers metadata requests; a second start finds the running one.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from agents.helpers import die_with_parent

KAFKA_VERSION = "4.1.1"
POM = Path(__file__).resolve().parents[1] / "deploy" / "kafka" / "pom.xml"

_LOG4J2 = """\
status = warn
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = ${sys:kafka.logs.dir}/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.file.ref = FILE
logger.started.name = kafka.server.KafkaRaftServer
logger.started.level = INFO
"""


def _new_cluster_id() -> str:
    """A KRaft cluster id: a random UUID in URL-safe base64, never starting with "-".

    One id in 64 would start with "-", and the storage tool's argument parser then reads it as
    an option ("expected one argument"): Kafka's own ``Uuid.randomUuid`` redraws those too.
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


class BrokerError(RuntimeError):
    """The local broker could not be fetched, started or stopped."""


def cache_dir() -> Path:
    """Where Kafka's jars are cached (shared by every checkout on the machine).

    ``STORYSTREAM_CACHE`` names the folder itself; otherwise ``$XDG_CACHE_HOME/storystream``
    or ``~/.cache/storystream``.
    """
    explicit = os.environ.get("STORYSTREAM_CACHE")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "storystream"


def fetch_jars(version: str = KAFKA_VERSION) -> Path:
    """Download Kafka's runtime jars with Maven (once); returns the folder that holds them."""
    libs = cache_dir() / f"kafka-{version}" / "libs"
    if libs.is_dir() and any(libs.glob("kafka_2.13-*.jar")):
        return libs
    if shutil.which("mvn") is None:
        raise BrokerError("Maven (mvn) is needed to fetch Apache Kafka's jars; install it first")
    partial = libs.with_name("libs.partial")
    shutil.rmtree(partial, ignore_errors=True)
    command = [
        "mvn",
        "-q",
        "-B",
        "-f",
        str(POM),
        f"-Dkafka.version={version}",
        "dependency:copy-dependencies",
        "-DincludeScope=runtime",
        f"-DoutputDirectory={partial}",
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BrokerError(f"mvn could not fetch Kafka {version}:\n{result.stdout}{result.stderr}")
    partial.rename(libs)
    return libs


def free_port() -> int:
    """Ask the OS for a free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int) -> bool:
    """Whether nothing listens on ``port`` on this machine."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def answers_metadata(bootstrap: str, timeout: float = 5.0) -> bool:
    """Say whether a broker at ``bootstrap`` answers a metadata request."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap,
            request_timeout_ms=int(timeout * 1000),
            client_id="storystream-probe",
        )
    except (KafkaError, OSError, ValueError):
        return False
    try:
        admin.list_topics()
        return True
    except (KafkaError, OSError):
        return False
    finally:
        admin.close()


@dataclass
class LocalBroker:
    """One local KRaft broker with its state in ``home``."""

    home: Path
    port: int = 9092
    controller_port: int = 9093
    heap: str = "512m"
    tied_to_launcher: bool = False
    """Stop the broker (SIGTERM) when the process that started it ends, however it ends: a
    throwaway broker outlived a benchmark killed with SIGTERM, using CPU in the next runs."""

    @property
    def bootstrap(self) -> str:
        """The ``host:port`` clients connect to."""
        return f"127.0.0.1:{self.port}"

    @property
    def _pid_file(self) -> Path:
        return self.home / "broker.json"

    def _properties(self) -> str:
        data = self.home / "data"
        return "\n".join(
            [
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.bootstrap.servers=127.0.0.1:{self.controller_port}",
                f"listeners=PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
                f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
                "controller.listener.names=CONTROLLER",
                "inter.broker.listener.name=PLAINTEXT",
                "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                f"log.dirs={data}",
                "num.partitions=4",
                "offsets.topic.replication.factor=1",
                "offsets.topic.num.partitions=8",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "share.coordinator.state.topic.replication.factor=1",
                "share.coordinator.state.topic.min.isr=1",
                "group.initial.rebalance.delay.ms=0",
                "auto.create.topics.enable=true",
                "log.retention.hours=168",
                "message.max.bytes=4194304",
                # One machine's broker, on cores it shares with the workers: Kafka's defaults
                # (3 network threads, 8 request handlers) are sized for a broker of its own.
                # Fewer threads, fewer wake-ups: its request threads used 0.083 cores at 200
                # articles/s in bench/e2e.py, 0.093-0.101 with the defaults.
                "num.network.threads=1",
                "num.io.threads=2",
                "",
            ]
        )

    def running_pid(self) -> int | None:
        """The pid of this broker if it is alive, else None."""
        try:
            info = json.loads(self._pid_file.read_text())
            pid = int(info["pid"])
            os.kill(pid, 0)
        except (OSError, ValueError, KeyError):
            return None
        return pid

    def start(self, wait: float = 90.0) -> str:
        """Start the broker (or find it running); returns the bootstrap address once it answers."""
        if self.running_pid() is not None:
            info = json.loads(self._pid_file.read_text())
            self.port, self.controller_port = int(info["port"]), int(info["controller_port"])
            if answers_metadata(self.bootstrap):
                return self.bootstrap
        if _port_open(self.port):
            raise BrokerError(f"port {self.port} is taken by another process; pick another --port")
        libs = fetch_jars()
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "logs").mkdir(exist_ok=True)
        config = self.home / "server.properties"
        config.write_text(self._properties())
        (self.home / "log4j2.properties").write_text(_LOG4J2)
        classpath = f"{libs}/*"
        if not (self.home / "data" / "meta.properties").exists():
            cluster_id = _new_cluster_id()
            fmt = subprocess.run(
                [
                    "java",
                    "-cp",
                    classpath,
                    "kafka.tools.StorageTool",
                    "format",
                    "--standalone",
                    "-t",
                    cluster_id,
                    "-c",
                    str(config),
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            if fmt.returncode != 0:
                raise BrokerError(f"formatting KRaft storage failed:\n{fmt.stdout}{fmt.stderr}")
        log = (self.home / "logs" / "stdout.log").open("ab")
        process = subprocess.Popen(
            [
                "java",
                f"-Xms{min(256, int(self.heap.rstrip('m')))}m",
                f"-Xmx{self.heap}",
                "-XX:+UseG1GC",
                "-Djava.awt.headless=true",
                f"-Dkafka.logs.dir={self.home / 'logs'}",
                f"-Dlog4j2.configurationFile=file:{self.home / 'log4j2.properties'}",
                "-cp",
                classpath,
                "kafka.Kafka",
                str(config),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent if self.tied_to_launcher else None,
        )
        self._pid_file.write_text(
            json.dumps(
                {"pid": process.pid, "port": self.port, "controller_port": self.controller_port}
            )
        )
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise BrokerError(
                    f"broker exited with {process.returncode}; see {self.home / 'logs'}"
                )
            if _port_open(self.port) and answers_metadata(self.bootstrap, timeout=3):
                return self.bootstrap
            time.sleep(0.5)
        self.stop()
        raise BrokerError(f"broker did not answer within {wait:.0f}s; see {self.home / 'logs'}")

    def stop(self, wait: float = 30.0) -> bool:
        """Stop the broker cleanly (SIGTERM, then SIGKILL after ``wait``); False if none ran."""
        pid = self.running_pid()
        if pid is None:
            return False
        os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                # Started by this process (a throwaway broker): reap it, or it stays a zombie
                # that answers signals, and every stop waited out the whole ``wait``.
                if os.waitpid(pid, os.WNOHANG)[0]:
                    break
            except ChildProcessError:
                pass  # started by another process (`storystream broker start`)
            try:
                os.kill(pid, 0)
            except OSError:
                break
            time.sleep(0.2)
        else:
            os.killpg(pid, signal.SIGKILL)
        self._pid_file.unlink(missing_ok=True)
        return True

    def kill(self) -> None:
        """Kill the broker at once (for fault tests)."""
        pid = self.running_pid()
        if pid is not None:
            os.killpg(pid, signal.SIGKILL)

    def status(self) -> str:
        """A one-line description of the broker's state."""
        pid = self.running_pid()
        if pid is None:
            return f"stopped (home {self.home})"
        state = "answering" if answers_metadata(self.bootstrap) else "not answering"
        return f"running, pid {pid}, {self.bootstrap}, {state}"


@contextmanager
def throwaway_broker(heap: str | None = None) -> Iterator[LocalBroker]:
    """A started broker on free ports in a temporary home, removed with its data on exit.

    For tests and benchmarks: each run writes gigabytes of topic data, and homes left behind
    filled this machine's disk after a few dozen benchmark runs.
    """
    home = Path(tempfile.mkdtemp(prefix="storystream-kafka-"))
    options = {"heap": heap} if heap else {}
    broker = LocalBroker(
        home, port=free_port(), controller_port=free_port(), tied_to_launcher=True, **options
    )
    try:
        broker.start()
        yield broker
    finally:
        broker.stop()
        shutil.rmtree(home, ignore_errors=True)
