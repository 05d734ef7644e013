//! What the process-level tests share: `directory serve` as its own process and GraphQL
//! over loopback. (PostgreSQL clusters of a test's own are `bench::cluster`'s.)

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub const TOKEN: &str = "fault-test-token-0123456789abcdefg";
pub const REGISTER: &str = "mutation($i: RegisterCustomerInput!) { registerCustomer(input: $i) { id } }";

/// The node key every server of these tests derives node passwords with.
pub fn node_key_file() -> std::path::PathBuf {
    std::env::temp_dir().join("directory-faults.node-key")
}

pub fn register_vars(command_id: &str) -> Value {
    json!({"i": {"commandId": command_id, "name": format!("Customer {command_id}"), "country": "DE", "billingAddress": "Berlin"}})
}

/// One GraphQL request over loopback as the bootstrap admin; answers the HTTP status and the body.
pub async fn post(
    client: &reqwest::Client,
    addr: &str,
    query: &str,
    variables: Value,
) -> reqwest::Result<(u16, Value)> {
    let res = client
        .post(format!("http://{addr}/graphql"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(json!({"query": query, "variables": variables}).to_string())
        .send()
        .await?;
    let status = res.status().as_u16();
    let body = res.bytes().await?;
    Ok((status, serde_json::from_slice(&body).unwrap_or(Value::Null)))
}

/// `directory serve` as its own process.
pub struct Server {
    child: Child,
    pub addr: String,
}

impl Server {
    /// Starts it on a port of its own choosing with `args` and `env` besides the test's
    /// defaults, and waits until it is ready. The server picks the port and says which in
    /// its log: a port probed free here could be taken by another test's connection
    /// before the server binds it.
    pub fn start(database_url: &str, args: &[&str], env: &[(&str, &str)]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_directory"))
            .arg("serve")
            .args(args)
            .env("DATABASE_URL", database_url)
            .env("DIRECTORY_LISTEN", "127.0.0.1:0")
            .env("DIRECTORY_BOOTSTRAP_TOKEN", TOKEN)
            .env("DIRECTORY_NODE_KEY_FILE", node_key_file())
            // A server that watches its runtime sheds while its workers wait for a core, and
            // the tests share two cores: only a test about shedding (which says so) gets it.
            .env("DIRECTORY_SHED_LAG_MS", "0")
            .envs(env.iter().copied())
            .env("RUST_LOG", "error,directory=info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start directory serve");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        // Reads the log to its end, so a server that logs much never blocks on the pipe.
        std::thread::spawn(move || {
            use std::io::BufRead;
            let mut tx = Some(tx);
            for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
                let Ok(entry) = serde_json::from_str::<Value>(&line) else { continue };
                let address = entry["fields"]["address"].as_str();
                if entry["fields"]["message"] == "serving"
                    && let (Some(address), Some(tx)) = (address, tx.take())
                {
                    let _ = tx.send(Ok(address.to_owned()));
                } else if entry["level"] == "ERROR"
                    && let Some(tx) = &tx
                {
                    let _ = tx.send(Err(line.clone()));
                }
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(Ok(addr)) => addr,
            Ok(Err(line)) => panic!("directory serve failed: {line}"),
            Err(_) => panic!("directory serve did not say where it listens"),
        };
        let server = Server { child, addr };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !ready(&server.addr) {
            assert!(Instant::now() < deadline, "the server did not get ready");
            std::thread::sleep(Duration::from_millis(25));
        }
        server
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn kill9(mut self) {
        let status = Command::new("kill").args(["-KILL", &self.child.id().to_string()]).status().unwrap();
        assert!(status.success());
        let _ = self.child.wait();
    }
}

/// Whether `/readyz` answers 200 (one connection per probe).
pub fn ready(addr: &str) -> bool {
    std::net::TcpStream::connect(addr).is_ok_and(|mut s| {
        use std::io::{Read, Write};
        let _ = s.write_all(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let mut answer = String::new();
        let _ = s.read_to_string(&mut answer);
        answer.starts_with("HTTP/1.1 200")
    })
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
