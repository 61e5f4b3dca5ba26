//! A private PostgreSQL cluster that a test may stop and start again without disturbing the
//! shared one: initdb into a temporary directory, a free port below 32768, run as the `postgres`
//! user when the tests run as root (PostgreSQL refuses root), as `scripts/pg-cluster.sh` does.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A running (or stopped) throwaway cluster; dropped, it stops and its files are removed.
pub struct PrivateCluster {
    bin: PathBuf,
    dir: tempfile::TempDir,
    pub port: u16,
}

/// The newest installed PostgreSQL's server binaries.
fn bin_dir() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|d| d.join("initdb").is_file())
        .collect();
    dirs.sort_by_key(|d| {
        d.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    dirs.pop()
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Runs a PostgreSQL binary as the owner of the cluster.
fn as_owner(program: &Path, args: &[&str]) -> Output {
    let mut command = if running_as_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    };
    command
        .args(args)
        .output()
        .expect("a PostgreSQL binary runs")
}

fn free_port() -> u16 {
    // Below 32768, outside the kernel's ephemeral range, as the shared cluster.
    use std::hash::{BuildHasher, Hasher};
    for _ in 0..200 {
        let random = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        let port = 20_000 + u16::try_from(random % 12_000).unwrap_or(0);
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port below 32768");
}

impl PrivateCluster {
    /// Creates and starts a cluster.
    pub fn start() -> Self {
        let bin = bin_dir().expect("PostgreSQL server binaries (apt-get install postgresql)");
        let dir = tempfile::Builder::new()
            .prefix("fathom-pg-private")
            .tempdir()
            .expect("temp dir");
        if running_as_root() {
            let owned = Command::new("chown")
                .args(["-R", "postgres:", &dir.path().display().to_string()])
                .status()
                .expect("chown runs");
            assert!(owned.success());
        }
        let data = dir.path().join("data").display().to_string();
        let init = as_owner(
            &bin.join("initdb"),
            &[
                "-D",
                &data,
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ],
        );
        assert!(
            init.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&init.stderr)
        );
        let cluster = Self {
            bin,
            dir,
            port: free_port(),
        };
        cluster.start_again();
        cluster
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    /// The superuser's URL.
    pub fn admin_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Starts the (stopped) cluster on its port.
    pub fn start_again(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("server.log").display().to_string();
        let started = as_owner(
            &self.bin.join("pg_ctl"),
            &[
                "-D",
                &self.data(),
                "-l",
                &log,
                "-w",
                "-o",
                &options,
                "start",
            ],
        );
        assert!(
            started.status.success(),
            "pg_ctl start: {}{}",
            String::from_utf8_lossy(&started.stdout),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    /// Stops the cluster, ending every connection (`-m fast`).
    pub fn stop(&self) {
        let stopped = as_owner(
            &self.bin.join("pg_ctl"),
            &["-D", &self.data(), "-m", "fast", "-w", "stop"],
        );
        assert!(
            stopped.status.success(),
            "pg_ctl stop: {}",
            String::from_utf8_lossy(&stopped.stderr)
        );
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        let _ = as_owner(
            &self.bin.join("pg_ctl"),
            &["-D", &self.data(), "-m", "immediate", "-w", "stop"],
        );
    }
}
