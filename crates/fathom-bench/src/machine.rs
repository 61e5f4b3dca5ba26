//! What the benchmark ran on: CPU count and model, memory, OS, and the load average when the
//! run started (other work on the machine skews the figures, so it is recorded).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    pub cpus: usize,
    pub cpu_model: String,
    pub memory_gib: f64,
    pub os: String,
    pub kernel: String,
    /// The 1-minute load average when the suite started.
    pub load_average: f64,
}

impl Machine {
    /// Describes this machine (fields it cannot read are left empty or zero).
    pub fn detect() -> Self {
        let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
        let cpuinfo = read("/proc/cpuinfo");
        let meminfo = read("/proc/meminfo");
        let os_release = read("/etc/os-release");
        Self {
            cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
            cpu_model: field(&cpuinfo, "model name", ':').unwrap_or_default(),
            memory_gib: field(&meminfo, "MemTotal", ':')
                .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
                .map_or(0.0, |kib| kib / 1024.0 / 1024.0),
            os: field(&os_release, "PRETTY_NAME", '=')
                .map(|v| v.trim_matches('"').to_owned())
                .unwrap_or_default(),
            kernel: read("/proc/sys/kernel/osrelease").trim().to_owned(),
            load_average: read("/proc/loadavg")
                .split_whitespace()
                .next()
                .and_then(|v| v.parse().ok())
                .unwrap_or(0.0),
        }
    }

    /// One line for the report header.
    pub fn describe(&self) -> String {
        format!(
            "{} CPUs ({}), {:.1} GiB RAM, {}, kernel {}; load average {:.2} at start",
            self.cpus, self.cpu_model, self.memory_gib, self.os, self.kernel, self.load_average
        )
    }
}

/// The value after `separator` on the first line whose key is `key`.
fn field(text: &str, key: &str, separator: char) -> Option<String> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(separator)?;
        (k.trim() == key).then(|| v.trim().to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_key_value_lines() {
        let cpuinfo = "processor\t: 0\nmodel name\t: Intel Xeon\n";
        assert_eq!(
            field(cpuinfo, "model name", ':').as_deref(),
            Some("Intel Xeon")
        );
        let os = "NAME=\"Debian\"\nPRETTY_NAME=\"Debian GNU/Linux 12\"\n";
        assert_eq!(
            field(os, "PRETTY_NAME", '=').as_deref(),
            Some("\"Debian GNU/Linux 12\"")
        );
        assert_eq!(field(os, "VERSION", '='), None);
    }
}
