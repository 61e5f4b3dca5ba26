//! A process's resident memory, read from `/proc/<pid>/status` (Linux).

/// `VmRSS` from the text of a `/proc/<pid>/status` file, in KiB.
pub fn parse_vm_rss_kib(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
}

/// The resident memory of process `pid` in MiB, or `None` when it cannot be read (the process
/// ended, or this is not Linux).
pub fn rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_vm_rss_kib(&status).map(|kib| kib as f64 / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_vm_rss() {
        let status = "Name:\tfathom\nVmPeak:\t  200000 kB\nVmRSS:\t   15360 kB\nThreads:\t7\n";
        assert_eq!(parse_vm_rss_kib(status), Some(15360));
        assert_eq!(parse_vm_rss_kib("Name:\tx\n"), None);
    }

    #[test]
    fn reads_this_process() {
        let mib = rss_mib(std::process::id()).expect("this process has a /proc entry");
        assert!(mib > 0.0);
    }
}
