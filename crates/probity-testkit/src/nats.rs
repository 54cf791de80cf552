//! A real `nats-server` per test: a free loopback port, its own JetStream store in a temp
//! directory, killed and cleaned up when dropped.

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Starts nats-server with JetStream on `port`, its store under `store` and its log in `log`,
/// plus `extra` arguments, and waits until it greets clients (and, for a cluster node, accepts
/// connections on `route_port`). Panics, saying what to install, when `nats-server` is
/// missing; `Err` with its log when it exits or does not come up within 10 s.
fn try_spawn_server(
    port: u16,
    route_port: Option<u16>,
    store: &Path,
    log: &Path,
    extra: &[&str],
) -> Result<Child, String> {
    let mut child = Command::new(nats_server_binary())
        .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
        .arg(store.join("js"))
        .arg("-l")
        .arg(log)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot start nats-server ({e}); install it: apt-get install -y nats-server")
        });
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        // A server that could not bind a port exits: no need to wait out the deadline.
        let exited = matches!(child.try_wait(), Ok(Some(_)));
        if exited || Instant::now() >= deadline {
            break;
        }
        let routes_listen = route_port.is_none_or(|p| TcpStream::connect(("127.0.0.1", p)).is_ok());
        if greets(port) && routes_listen {
            return Ok(child);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    Err(std::fs::read_to_string(log).unwrap_or_default())
}

/// Whether a failed start's log says a port was taken. Ports come from [`free_port`], which
/// lets go of them before nats-server binds them; in between, another test's connection can
/// be given the same number as its local port. The cure is another port, or a moment.
fn port_taken(log: &str) -> bool {
    log.contains("address already in use")
}

/// How many times a start whose port was taken is tried again, with new ports.
const START_ATTEMPTS: usize = 5;

/// How many times a restart on the same ports is tried, 100 ms apart.
const RESTART_ATTEMPTS: usize = 50;

/// Runs `start` until it does not fail on a taken port, `attempts` times at most, `pause`
/// apart: a first start picks new ports each time, a restart waits for its own. Panics with
/// the log on any other failure, or when the ports stay taken.
fn start_while_port_taken<T>(
    attempts: usize,
    pause: Duration,
    mut start: impl FnMut() -> Result<T, String>,
) -> T {
    let mut failure = String::new();
    for _ in 0..attempts {
        match start() {
            Ok(started) => return started,
            Err(log) if port_taken(&log) => failure = log,
            Err(log) => panic!("nats-server did not start; log: {log}"),
        }
        std::thread::sleep(pause);
    }
    panic!("nats-server found its port taken {attempts} times; last log: {failure}")
}

/// Starts a server again on the ports it had, waiting for them if they are taken.
fn respawn(start: impl FnMut() -> Result<Child, String>) -> Child {
    start_while_port_taken(RESTART_ATTEMPTS, Duration::from_millis(100), start)
}

/// A running nats-server with JetStream.
#[derive(Debug)]
pub struct NatsServer {
    child: Option<Child>,
    port: u16,
    store: tempfile::TempDir,
    log: PathBuf,
    /// Arguments beyond the defaults (a configuration file), kept for restarts.
    extra: Vec<String>,
}

/// A free TCP port on the loopback interface.
pub fn free_port() -> u16 {
    // Invariant: binding port 0 on loopback succeeds on any machine that runs the tests.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

fn nats_server_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("NATS_SERVER") {
        return PathBuf::from(path);
    }
    for candidate in [
        "/usr/sbin/nats-server",
        "/usr/bin/nats-server",
        "/usr/local/bin/nats-server",
    ] {
        if Path::new(candidate).is_file() {
            return PathBuf::from(candidate);
        }
    }
    PathBuf::from("nats-server")
}

/// Waits until `port` accepts connections and greets with NATS `INFO`.
pub fn wait_for_port(port: u16, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if greets(port) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// Whether `port` accepts a connection and greets with NATS `INFO`.
fn greets(port: u16) -> bool {
    let Ok(stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).is_ok() && line.starts_with("INFO")
}

impl NatsServer {
    /// Starts a server with JetStream on a free port. Panics, saying what to install, when
    /// `nats-server` is missing.
    pub fn start() -> NatsServer {
        let store = tempfile::tempdir().expect("temp dir for the JetStream store");
        let log = store.path().join("nats.log");
        let (child, port) = start_while_port_taken(START_ATTEMPTS, Duration::ZERO, || {
            let port = free_port();
            Ok((try_spawn_server(port, None, store.path(), &log, &[])?, port))
        });
        NatsServer {
            child: Some(child),
            port,
            store,
            log,
            extra: Vec::new(),
        }
    }

    /// Starts a server with a shipped configuration: `conf` (e.g. `deploy/nats/single.conf`)
    /// with the files it includes beside it, on a free port and its own store (the
    /// configuration's `listen`, `http` and store directory are replaced; everything else —
    /// accounts, users, permissions — is used as shipped).
    pub fn start_with_config(conf: &Path) -> NatsServer {
        let store = tempfile::tempdir().expect("temp dir for the JetStream store");
        let log = store.path().join("nats.log");
        let dir = conf.parent().expect("a configuration file in a directory");
        for entry in std::fs::read_dir(dir).expect("the configuration's directory") {
            let entry = entry.expect("a directory entry");
            std::fs::copy(entry.path(), store.path().join(entry.file_name()))
                .expect("copy the configuration");
        }
        let text = std::fs::read_to_string(conf).expect("the configuration");
        let kept: String = text
            .lines()
            .filter(|l| {
                let l = l.trim_start();
                !(l.starts_with("listen") || l.starts_with("http") || l.starts_with("store_dir"))
            })
            .map(|l| format!("{l}\n"))
            .collect();
        let copied = store.path().join("server.conf");
        std::fs::write(&copied, kept).expect("write the configuration");
        let config = copied.to_string_lossy().into_owned();
        let (child, port) = start_while_port_taken(START_ATTEMPTS, Duration::ZERO, || {
            let port = free_port();
            let spawned = try_spawn_server(port, None, store.path(), &log, &["-c", &config]);
            Ok((spawned?, port))
        });
        NatsServer {
            child: Some(child),
            port,
            store,
            log,
            extra: vec!["-c".into(), config],
        }
    }

    fn spawn(&mut self) {
        let (port, store, log) = (self.port, self.store.path(), &self.log);
        let extra: Vec<&str> = self.extra.iter().map(String::as_str).collect();
        self.child = Some(respawn(|| try_spawn_server(port, None, store, log, &extra)));
    }

    /// `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the server (SIGKILL) and waits for it; the store stays.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port and store.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A JetStream cluster of real `nats-server`s on loopback: free client and route ports, each
/// node with its own store, all killed on drop.
#[derive(Debug)]
pub struct NatsCluster {
    nodes: Vec<ClusterNode>,
    routes: String,
}

#[derive(Debug)]
struct ClusterNode {
    child: Option<Child>,
    name: String,
    port: u16,
    route_port: u16,
    store: tempfile::TempDir,
}

impl NatsCluster {
    /// Starts `size` nodes and waits until each accepts clients (JetStream may still be
    /// electing its leader: callers retry, as ledgerd does).
    pub fn start(size: usize) -> NatsCluster {
        // Every node names every route port: a taken one means new ports for all.
        start_while_port_taken(START_ATTEMPTS, Duration::ZERO, || {
            let nodes: Vec<ClusterNode> = (0..size)
                .map(|i| ClusterNode {
                    child: None,
                    name: format!("n{}", i + 1),
                    port: free_port(),
                    route_port: free_port(),
                    store: tempfile::tempdir().expect("temp dir for a node's store"),
                })
                .collect();
            let routes = nodes
                .iter()
                .map(|n| format!("nats://127.0.0.1:{}", n.route_port))
                .collect::<Vec<_>>()
                .join(",");
            let mut cluster = NatsCluster { nodes, routes };
            for i in 0..size {
                cluster.nodes[i].child = Some(cluster.try_spawn(i)?);
            }
            Ok(cluster)
        })
    }

    fn try_spawn(&self, i: usize) -> Result<Child, String> {
        let node = &self.nodes[i];
        let route = format!("nats://127.0.0.1:{}", node.route_port);
        let cluster = [
            "-n",
            &node.name,
            "--cluster_name",
            "probity-test",
            "--cluster",
            &route,
            "--routes",
            &self.routes,
        ];
        let log = node.store.path().join("nats.log");
        try_spawn_server(
            node.port,
            Some(node.route_port),
            node.store.path(),
            &log,
            &cluster,
        )
    }

    /// Every node's client URL, comma-separated (what ledgerd and `probity` take).
    pub fn urls(&self) -> String {
        self.nodes
            .iter()
            .map(|n| format!("nats://127.0.0.1:{}", n.port))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Node `i`'s client port.
    pub fn port(&self, i: usize) -> u16 {
        self.nodes[i].port
    }

    /// Kills node `i` (SIGKILL); its store stays.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.nodes[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts node `i` again on its ports and store (the others route to it, clients
    /// reconnect to it: it keeps its ports, waiting for them if they are taken).
    pub fn restart(&mut self, i: usize) {
        self.kill(i);
        let child = respawn(|| self.try_spawn(i));
        self.nodes[i].child = Some(child);
    }
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A port someone else holds is told apart from other failures (so a start tries new
    /// ports), without waiting out the start deadline.
    #[test]
    fn a_taken_port_is_reported_as_taken_at_once() {
        let holder = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = holder.local_addr().expect("address").port();
        let store = tempfile::tempdir().expect("temp dir");
        let started = Instant::now();
        let log = try_spawn_server(port, None, store.path(), &store.path().join("log"), &[])
            .expect_err("the port is held");
        assert!(port_taken(&log), "{log}");
        assert!(started.elapsed() < Duration::from_secs(5));

        let server = NatsServer::start();
        assert!(greets(server.port()));
    }
}
