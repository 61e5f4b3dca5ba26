//! Child server processes: spawn one, wait for the JSON log line that carries its bound
//! `address`, keep draining its output (a full pipe would block it), and kill it when dropped.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, bail};

/// A running server process and the address it announced.
pub struct ServerProcess {
    child: Child,
    pub address: SocketAddr,
}

impl ServerProcess {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.address, path)
    }

    /// Resident memory now, in MiB.
    pub fn rss_mib(&self) -> Option<f64> {
        crate::proc_stats::rss_mib(self.pid())
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Spawns `command` with stdout and stderr piped and waits up to `timeout` for a stdout line
/// that is a JSON object with an `address` field (how both `fathom serve` with JSON logs and
/// `fathom-bench baseline` announce the port they bound).
pub fn spawn_announcing(mut command: Command, timeout: Duration) -> anyhow::Result<ServerProcess> {
    let program = format!("{:?}", command.get_program());
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {program}"))?;
    let stdout = child.stdout.take().context("stdout is piped")?;
    let stderr = child.stderr.take().context("stderr is piped")?;
    let (found, announced) = mpsc::channel();
    std::thread::spawn(move || {
        let mut found = Some(found);
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(sender) = found.as_ref()
                && let Some(address) = announced_address(&line)
            {
                let _ = sender.send(address);
                found = None;
            }
        }
    });
    let (errors_tx, errors_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut collected = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if collected.len() < 8192 {
                collected.push_str(&line);
                collected.push('\n');
            }
        }
        let _ = errors_tx.send(collected);
    });
    match announced.recv_timeout(timeout) {
        Ok(address) => Ok(ServerProcess { child, address }),
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            let stderr = errors_rx
                .recv_timeout(Duration::from_secs(2))
                .unwrap_or_default();
            bail!("{program} did not announce an address within {timeout:?}; stderr:\n{stderr}")
        }
    }
}

/// The `address` of a JSON log line, if it has one.
pub fn announced_address(line: &str) -> Option<SocketAddr> {
    let event: serde_json::Value = serde_json::from_str(line).ok()?;
    // Other listeners (`metrics.listen`) announce their addresses too; the API's line is the
    // one whose message says "listening".
    let message = event
        .pointer("/fields/message")
        .or_else(|| event.get("message"))?
        .as_str()?;
    if !message.starts_with("listening") {
        return None;
    }
    event.get("address")?.as_str()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_address_in_a_json_log_line() {
        let line = r#"{"timestamp":"…","level":"INFO","fields":{"message":"listening"},"address":"127.0.0.1:40123"}"#;
        assert_eq!(
            announced_address(line),
            Some("127.0.0.1:40123".parse().expect("address"))
        );
        assert_eq!(announced_address("listening on 127.0.0.1:1"), None);
        let metrics = r#"{"fields":{"message":"serving metrics on http://127.0.0.1:9464/metrics"},"address":"127.0.0.1:9464"}"#;
        assert_eq!(announced_address(metrics), None);
        assert_eq!(
            announced_address(r#"{"message":"listening","address": 3}"#),
            None
        );
    }
}
