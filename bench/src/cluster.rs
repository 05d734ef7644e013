//! PostgreSQL clusters of their own, for measurements and tests that need a primary and
//! streaming hot standbys of it: the installed server binaries in temporary directories,
//! on free ports, run as the `postgres` user when this process is root (PostgreSQL refuses
//! to run as root). The server on the standard port is never touched.

use std::path::PathBuf;
use std::process::Command;

use anyhow::Context as _;

/// One cluster, stopped and deleted when dropped.
pub struct Cluster {
    dir: PathBuf,
    pub port: u16,
    bin: PathBuf,
}

impl Cluster {
    fn new() -> anyhow::Result<Cluster> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .context("PostgreSQL's server binaries under /usr/lib/postgresql")?
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .find(|p| p.join("pg_ctl").exists())
            .context("no pg_ctl under /usr/lib/postgresql")?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let dir = std::env::temp_dir().join(format!("directory-pg-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let cluster = Cluster { dir, port, bin };
        if as_root() {
            let status = Command::new("chown").arg("postgres:postgres").arg(&cluster.dir).status()?;
            anyhow::ensure!(status.success(), "chown of {} failed", cluster.dir.display());
        }
        Ok(cluster)
    }

    /// A new primary, started.
    pub fn primary() -> anyhow::Result<Cluster> {
        let cluster = Cluster::new()?;
        cluster.run("initdb", &["-D", &cluster.data(), "-A", "trust", "-U", "postgres", "--no-sync"])?;
        cluster.pg_ctl(&["start"])?;
        Ok(cluster)
    }

    /// A streaming hot standby of `primary`: a base backup that follows its WAL, started.
    pub fn standby_of(primary: &Cluster) -> anyhow::Result<Cluster> {
        let cluster = Cluster::new()?;
        let (port, data) = (primary.port.to_string(), cluster.data());
        let args = ["-h", "127.0.0.1", "-p", &port, "-U", "postgres", "-D", &data, "-R", "-X", "stream", "--no-sync"];
        cluster.run("pg_basebackup", &args)?;
        cluster.pg_ctl(&["start"])?;
        Ok(cluster)
    }

    /// Ends recovery: the standby becomes a primary that takes writes.
    pub fn promote(&self) -> anyhow::Result<()> {
        self.pg_ctl(&["promote"])
    }

    /// `pg_ctl` on this cluster's data, port and socket directory, waiting for it to finish.
    pub fn pg_ctl(&self, args: &[&str]) -> anyhow::Result<()> {
        let options = format!("-p {} -k {} -c listen_addresses=127.0.0.1", self.port, self.dir.display());
        let log = self.dir.join("server.log").display().to_string();
        let data = self.data();
        let mut all = vec!["-D", data.as_str(), "-o", options.as_str(), "-l", log.as_str(), "-w"];
        all.extend_from_slice(args);
        self.run("pg_ctl", &all)
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn data(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    fn run(&self, tool: &str, args: &[&str]) -> anyhow::Result<()> {
        let out = self.command(tool).args(args).output().with_context(|| format!("running {tool}"))?;
        anyhow::ensure!(out.status.success(), "{tool} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        Ok(())
    }

    fn command(&self, tool: &str) -> Command {
        let path = self.bin.join(tool);
        if as_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        }
    }
}

fn as_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0\n")).unwrap_or(false)
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.command("pg_ctl").args(["-D", &self.data(), "-m", "immediate", "stop"]).output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
