//! A real `nats-server` per test: a free loopback port, its own JetStream store in a temp
//! directory, killed and cleaned up when dropped.

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Starts nats-server with JetStream on `port`, its store under `store` and its log in `log`,
/// plus `extra` arguments, and waits until it accepts clients. Panics, saying what to install,
/// when `nats-server` is missing.
fn spawn_server(port: u16, store: &Path, log: &Path, extra: &[&str]) -> Child {
    let child = Command::new(nats_server_binary())
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
    assert!(
        wait_for_port(port, Duration::from_secs(10)),
        "nats-server did not start on port {port}; log: {}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
    child
}

/// A running nats-server with JetStream.
#[derive(Debug)]
pub struct NatsServer {
    child: Option<Child>,
    port: u16,
    store: tempfile::TempDir,
    log: PathBuf,
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
        if let Ok(stream) = TcpStream::connect(("127.0.0.1", port)) {
            let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
            let mut line = String::new();
            if BufReader::new(stream).read_line(&mut line).is_ok() && line.starts_with("INFO") {
                return true;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

impl NatsServer {
    /// Starts a server with JetStream on a free port. Panics, saying what to install, when
    /// `nats-server` is missing.
    pub fn start() -> NatsServer {
        let store = tempfile::tempdir().expect("temp dir for the JetStream store");
        let port = free_port();
        let log = store.path().join("nats.log");
        let mut server = NatsServer {
            child: None,
            port,
            store,
            log,
        };
        server.spawn();
        server
    }

    fn spawn(&mut self) {
        self.child = Some(spawn_server(self.port, self.store.path(), &self.log, &[]));
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
            cluster.spawn(i);
        }
        cluster
    }

    fn spawn(&mut self, i: usize) {
        let node = &mut self.nodes[i];
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
        node.child = Some(spawn_server(node.port, node.store.path(), &log, &cluster));
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

    /// Starts node `i` again on its ports and store.
    pub fn restart(&mut self, i: usize) {
        self.kill(i);
        self.spawn(i);
    }
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i);
        }
    }
}
